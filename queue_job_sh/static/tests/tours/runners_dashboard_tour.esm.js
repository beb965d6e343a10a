/* @odoo-module */
/* Copyright 2026 queue_job_sh contributors
 * License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl). */

import {registry} from "@web/core/registry";

const CHANNEL_ROW =
    ".o_queue_job_sh_channels .o_data_row:has(td[name=name]:contains(root.import))";

const URL = "/odoo/action-queue_job_sh.queue_job_sh_dashboard_action";

// The screen, whatever holds the channel settings.
const figureSteps = () => [
    {
        content: "The stuck job is reported",
        trigger: ".o_queue_job_sh_warnings .alert-warning:contains(stuck 'started')",
    },
    {
        content: "The hour's summary",
        trigger: ".o_queue_job_sh_summary .card:contains(Jobs done):contains(80)",
    },
    {
        content: "The channel's figures",
        trigger: `${CHANNEL_ROW} td[name=ready]:contains(3)`,
    },
    {
        trigger: `${CHANNEL_ROW} td[name=waiting]:contains(2)`,
    },
    {
        trigger: `${CHANNEL_ROW} td[name=capacity]:contains(4)`,
    },
    {
        content: "The throughput and latency graphs",
        trigger: ".o_queue_job_sh_throughput canvas",
    },
    {
        trigger: ".o_queue_job_sh_latency canvas",
    },
    {
        content: "The latest passes",
        trigger:
            ".o_queue_job_sh_passes .o_data_row td[name=end_reason]:contains(Time budget spent)",
    },
];

const runPassSteps = () => [
    {
        content: "Run a pass now",
        trigger: ".o_queue_job_sh_run_pass",
        run: "click",
    },
    {
        trigger: ".o_notification:contains(A runner cron was triggered)",
    },
];

// Channel settings in queue.job.channel records: the screen changes them.
registry.category("web_tour.tours").add("queue_job_sh_runners_dashboard", {
    url: URL,
    steps: () => [
        ...figureSteps(),
        {
            content: "Pause the channel",
            trigger: `${CHANNEL_ROW} button[name=action_pause]`,
            run: "click",
        },
        {
            content: "It shows paused, and can be resumed",
            trigger: `${CHANNEL_ROW} button[name=action_resume]`,
        },
        ...runPassSteps(),
    ],
});

// Channel settings in queue_job's channels option: figures only, and where
// they come from.
registry.category("web_tour.tours").add("queue_job_sh_runners_dashboard_option", {
    url: URL,
    steps: () => [
        ...figureSteps(),
        {
            content: "Where the channel settings come from",
            trigger:
                ".o_queue_job_sh_warnings .alert-info:contains(channels option)",
        },
        {
            content: "The settings cannot be changed here",
            trigger:
                `${CHANNEL_ROW}:not(:has(button[name=action_pause]))` +
                ":not(:has(button[name=action_open_channel]))",
        },
        {
            content: "A channel paused by the option shows paused",
            trigger:
                ".o_queue_job_sh_channels .o_data_row:has(td[name=name]:contains(root.export))" +
                " td[name=paused] input:checked",
        },
        ...runPassSteps(),
    ],
});
