/* @odoo-module */
/* Copyright 2026 queue_job_sh contributors
 * License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl). */

import {Component, onWillStart, useState} from "@odoo/owl";
import {deserializeDateTime, formatDateTime} from "@web/core/l10n/dates";
import {Layout} from "@web/search/layout";
import {View} from "@web/views/view";
import {_t} from "@web/core/l10n/translation";
import {registry} from "@web/core/registry";
import {standardActionServiceProps} from "@web/webclient/actions/action_service";
import {useService} from "@web/core/utils/hooks";

/**
 * The Runners screen: the runners' health warnings and the hour's summary
 * (from queue.job.sh.dashboard), above standard list and graph views of the
 * runners' figures, laid out together on one screen.
 */
export class RunnersDashboard extends Component {
    static template = "queue_job_sh.RunnersDashboard";
    static components = {Layout, View};
    static props = {...standardActionServiceProps};

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({data: null, key: 0});
        this.display = {controlPanel: {}};
        onWillStart(() => this.load());
    }

    async load() {
        this.state.data = await this.orm.call(
            "queue.job.sh.dashboard",
            "get_dashboard_data",
            []
        );
    }

    async refresh() {
        await this.load();
        // remounts the embedded views, which reload their figures
        this.state.key++;
    }

    async runPass() {
        const action = await this.orm.call(
            "queue.job.sh.dashboard",
            "action_run_pass",
            []
        );
        await this.action.doAction(action);
    }

    formatDate(value) {
        return value ? formatDateTime(deserializeDateTime(value)) : _t("never");
    }

    formatSeconds(value) {
        return value === null || value === undefined
            ? "–"
            : `${value.toFixed(value < 10 ? 1 : 0)} s`;
    }

    viewProps(resModel, type, extra = {}) {
        return {
            resModel,
            type,
            display: {controlPanel: false},
            views: [
                [false, type],
                [false, "search"],
            ],
            ...extra,
        };
    }

    get channelsProps() {
        return this.viewProps("queue.job.sh.channel.stat", "list", {
            allowSelectors: false,
            selectRecord: (resId) => this.openChannelJobs(resId),
        });
    }

    get throughputProps() {
        return this.viewProps("queue.job.sh.minute.stat", "graph", {
            domain: [["metric", "=", "done"]],
            context: {graph_mode: "bar"},
        });
    }

    get latencyProps() {
        return this.viewProps("queue.job.sh.minute.stat", "graph", {
            domain: [["metric", "in", ["p50", "p95"]]],
        });
    }

    get passesProps() {
        return this.viewProps("queue.job.sh.pass", "list", {
            allowSelectors: false,
            limit: 10,
            views: [
                [false, "list"],
                [false, "form"],
                [false, "search"],
            ],
            selectRecord: (resId) =>
                this.action.doAction({
                    type: "ir.actions.act_window",
                    res_model: "queue.job.sh.pass",
                    res_id: resId,
                    views: [[false, "form"]],
                    target: "new",
                }),
        });
    }

    async openChannelJobs(resId) {
        const action = await this.orm.call(
            "queue.job.sh.channel.stat",
            "action_open_jobs",
            [[resId]]
        );
        await this.action.doAction(action);
    }

    openFigures() {
        this.action.doAction("queue_job_sh.queue_job_sh_minute_stat_action");
    }

    openPasses() {
        this.action.doAction("queue_job_sh.queue_job_sh_pass_action");
    }
}

registry.category("actions").add("queue_job_sh.runners_dashboard", RunnersDashboard);
