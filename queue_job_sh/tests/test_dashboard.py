# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The Runners screen's figures, warnings and actions, on known data."""

import os
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import format_datetime

from odoo.addons.queue_job.jobrunner.runner import PG_ADVISORY_LOCK_ID

from .. import odoo_series
from .dashboard_common import DashboardDataMixin

STAT = "queue.job.sh.channel.stat"
MINUTE = "queue.job.sh.minute.stat"
DASHBOARD = "queue.job.sh.dashboard"


@tagged("post_install", "-at_install")
class TestDashboard(DashboardDataMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_dashboard_data()
        cls.Channel = cls.env["queue.job.channel"]
        cls.root = cls.Channel.search([("complete_name", "=", "root")])
        cls.channel_a = cls.Channel.create({"name": "qjsh_a", "parent_id": cls.root.id})
        cls.settings_in_records = bool(odoo_series.channel_setting_fields(cls.env))
        if cls.settings_in_records:
            cls.root.capacity = 6
            cls.channel_a.capacity = 4
        else:
            cls.startClassPatcher(
                patch.dict(
                    os.environ, {"ODOO_QUEUE_JOB_CHANNELS": "root:6,root.qjsh_a:4"}
                )
            )
        cls.crons = cls.env["queue.job.sh.runner"]._runner_crons()
        cls.manager = new_test_user(
            cls.env,
            "qjsh_manager",
            groups="base.group_user,queue_job.group_queue_job_manager",
        )
        cls.user = new_test_user(cls.env, "qjsh_user", groups="base.group_user")

    def _stat(self, name):
        return self.env[STAT].search([("name", "=", name)])

    def _minute(self, offset, second=10):
        """Seconds from now to ``second`` s into the minute ``offset``."""
        minute = self.now.replace(second=0, microsecond=0) + timedelta(minutes=offset)
        return (minute + timedelta(seconds=second) - self.now).total_seconds()

    def _warnings(self, level=None):
        return [
            warning["message"]
            for warning in self.env[DASHBOARD].get_dashboard_data()["warnings"]
            if level in (None, warning["level"])
        ]

    def _problems(self):
        """The danger and warning messages, without the informative ones."""
        return self._warnings("danger") + self._warnings("warning")

    # ------------------------------------------------------------------
    # Figures
    # ------------------------------------------------------------------
    def test_channel_figures(self):
        channel = "root.qjsh_a"
        self._job("pending", channel, created=-300)
        self._job("pending", channel, created=-100)
        self._job("pending", channel, created=-1000, eta=-50)  # its ETA passed
        self._job("pending", channel, created=-10, eta=600)
        self._job("pending", channel, created=-10, eta=60)
        self._job("started", channel, created=-20, started=-5)
        self._job("enqueued", channel, created=-20)
        for _i in range(3):
            self._job("failed", channel, created=-5000)
        for _i in range(2):
            self._job("wait_dependencies", channel, created=-5000)
        # not counted
        self._job("done", channel, created=-5000, started=-4000, done=-3000)
        self._job("cancelled", channel, created=-5000)
        # a channel without record, named with and without its root
        self._job("pending", "qjsh_b", created=-30)
        self._job("pending", "root.qjsh_b", created=-20)

        stat = self._stat(channel)
        self.assertRecordValues(
            stat,
            [
                {
                    "channel_id": self.channel_a.id,
                    "running": 2,
                    "ready": 3,
                    "waiting": 2,
                    "failed": 3,
                    "waiting_dependencies": 2,
                    "oldest_ready_seconds": 300,
                    "oldest_ready_age": "5 min",
                    "capacity": 4,
                    "paused": False,
                    "editable": self.settings_in_records,
                }
            ],
        )
        self.assertRecordValues(
            self._stat("root.qjsh_b"),
            [{"channel_id": False, "ready": 2, "oldest_ready_seconds": 30}],
        )
        # the channels with a record are listed even without jobs
        self.assertRecordValues(
            self._stat("root"),
            [{"channel_id": self.root.id, "ready": 0, "capacity": 6}],
        )
        self.assertFalse(self._stat("qjsh_b"))
        # the ids are stable: a row can be acted upon after a reload
        self._job("pending", "root.qjsh_c", created=-1)
        self.env.invalidate_all()
        self.assertEqual(self._stat(channel).id, stat.id)

    def test_capacity_and_pause(self):
        """The screen pauses a channel where queue_job keeps the settings in
        records; where it keeps none there, it refuses and creates no
        record."""
        if not self.settings_in_records:
            self._job("pending", "root.qjsh_a.sub", created=-5)
            sub = self._stat("root.qjsh_a.sub")
            self.assertRecordValues(sub, [{"paused": False, "editable": False}])
            for action in (sub.action_pause, sub.action_resume):
                with self.assertRaisesRegex(UserError, "channels option only"):
                    action()
            self.assertFalse(
                self.Channel.search([("complete_name", "=", "root.qjsh_a.sub")])
            )
            return
        # unconfigured subchannels take their parent's default capacity
        self.channel_a.capacity_default = 2
        self._job("pending", "root.qjsh_a.sub", created=-5)
        sub = self._stat("root.qjsh_a.sub")
        self.assertRecordValues(sub, [{"capacity": 2, "paused": False}])

        self._stat("root.qjsh_a").action_pause()
        self.assertTrue(self.channel_a.paused)
        self.env.invalidate_all()
        self.assertRecordValues(
            self._stat("root.qjsh_a"), [{"paused": True, "channel_paused": True}]
        )
        # paused by its parent, not by itself
        self.assertRecordValues(sub, [{"paused": True, "channel_paused": False}])
        self._stat("root.qjsh_a").action_resume()
        self.assertFalse(self.channel_a.paused)

        # pausing a channel without record creates it, with what it inherited
        sub.action_pause()
        record = self.Channel.search([("complete_name", "=", "root.qjsh_a.sub")])
        self.assertRecordValues(
            record, [{"parent_id": self.channel_a.id, "capacity": 2, "paused": True}]
        )
        self.env.invalidate_all()
        self.assertRecordValues(sub, [{"channel_id": record.id, "capacity": 2}])
        action = sub.action_open_channel()
        self.assertEqual(
            (action["res_model"], action["res_id"]), ("queue.job.channel", record.id)
        )

    def test_minute_figures(self):
        channel = "root.qjsh_a"
        for _i in range(3):
            self._job("done", channel, created=-3000, done=self._minute(-2))
        self._job("done", channel, created=-3000, done=self._minute(0, second=0))
        self._job("done", channel, created=-9000, done=self._minute(-61))
        # started 5 minutes ago, 10, 20 and 30 s after their creation
        start = self._minute(-5)
        for latency in (10, 20, 30):
            self._job("started", channel, created=start - latency, started=start)
        # a job waits for its ETA, not from its creation
        start = self._minute(-7)
        self._job("done", channel, created=start - 100, eta=start - 5, started=start)

        values = {
            (row.minute, row.metric): row.value for row in self.env[MINUTE].search([])
        }
        done = {minute: v for (minute, metric), v in values.items() if metric == "done"}
        self.assertEqual(sorted(done), list(range(-59, 1)))
        self.assertEqual(
            {minute: v for minute, v in done.items() if v}, {-2: 3.0, 0: 1.0}
        )
        latency = {key: v for key, v in values.items() if key[1] != "done"}
        self.assertEqual(
            latency,
            {(-5, "p50"): 20.0, (-5, "p95"): 29.0, (-7, "p50"): 5.0, (-7, "p95"): 5.0},
        )
        # what the graphs read: the value per minute
        groups = self.env[MINUTE].read_group(
            [("metric", "=", "done")], ["value:avg"], ["minute"], lazy=False
        )
        self.assertEqual({g["minute"]: g["value"] for g in groups}[-2], 3.0)

        summary = self.env[DASHBOARD].get_dashboard_data()["summary"]
        self.assertEqual(summary["done_last_hour"], 4)
        self.assertEqual(summary["done_per_minute"], 0.1)
        self.assertEqual(summary["started_last_hour"], 4)
        # percentiles of 5, 10, 20 and 30 s
        self.assertAlmostEqual(summary["latency_p50"], 15.0)
        self.assertAlmostEqual(summary["latency_p95"], 28.5)

    def test_summary_runners(self):
        self._pass(-600, -590, "queue_empty")
        self._pass(-30)  # running
        self._pass(-7200, alive=False)  # never ended: its process died
        self.crons[:1].active = False
        summary = self.env[DASHBOARD].get_dashboard_data()["summary"]
        self.assertEqual(summary["running_passes"], 1)
        self.assertEqual(
            summary["last_pass_at"], fields.Datetime.to_string(self._at(-30))
        )
        self.assertEqual(summary["runners"], len(self.crons))
        self.assertEqual(summary["runners_active"], len(self.crons) - 1)

    # ------------------------------------------------------------------
    # Warnings
    # ------------------------------------------------------------------
    def test_no_warning(self):
        self._job("pending", "root.qjsh_a", created=-5)
        self._pass(-60, -59, "queue_empty")
        self.assertFalse(self._problems())
        # and where the channel settings come from, when not from the records
        self.assertEqual(len(self._warnings("info")), not self.settings_in_records)

    def test_warning_no_recent_pass(self):
        message = "no runner pass started in the last 15 minutes"
        self._pass(-1200, -1190, "queue_empty")
        self.assertFalse(self._problems())  # no job ready: nothing to run
        job = self._job("pending", "root.qjsh_a", created=-5, eta=60)
        self.assertFalse(self._problems())  # waiting for its ETA
        self.env.cr.execute("UPDATE queue_job SET eta = NULL WHERE id = %s", (job,))
        self.assertIn(message, self._warnings("danger")[0])
        # a pass still running (started 20 minutes ago) is activity
        running = self._pass(-1200)
        self.assertFalse(self._problems())
        # ... unless its process died (its database session is gone)
        running.backend_pid = -1
        self.assertIn(message, self._warnings("danger")[0])
        self._pass(-60, -50, "budget")
        self.assertFalse(self._problems())

    def test_warning_inactive_crons(self):
        self._pass(-60, -59, "queue_empty")
        cron = self.crons[0]
        cron.active = False
        (warning,) = self._warnings("danger")
        self.assertIn("Runner crons inactive: %s." % cron.name, warning)
        cron.write({"active": True, "failure_count": 3, "first_failure_date": self.now})
        (warning,) = self._warnings("warning")
        self.assertIn("%s failed 3 times in a row" % cron.name, warning)

        self.crons.unlink()
        self.assertIn("There is no runner cron", self._warnings("danger")[0])

    def test_warning_http_jobrunner(self):
        self._pass(-60, -59, "queue_empty")
        self.assertFalse(self._problems())
        # queue_job's jobrunner holds this lock on a connection of its own
        with self.registry.cursor() as cr:
            cr.execute("SELECT pg_advisory_lock(%s)", (PG_ADVISORY_LOCK_ID,))
            try:
                (warning,) = self._warnings("danger")
            finally:
                cr.execute("SELECT pg_advisory_unlock(%s)", (PG_ADVISORY_LOCK_ID,))
        self.assertIn("HTTP jobrunner is active on database", warning)

    def test_warning_stuck_started(self):
        self._pass(-60, -59, "queue_empty")
        self._job("started", "root.qjsh_a", created=-1000, started=-600)
        self.assertFalse(self._problems())
        self._job("started", "root.qjsh_a", created=-9000, started=-7200)
        self._job("started", "root.qjsh_a", created=-9000, started=-3700)
        (warning,) = self._warnings("warning")
        self.assertIn("'started' for more than 60 min: 2", warning)
        self.assertIn(format_datetime(self.env, self._at(-7200)), warning)

    def test_channels_from_server_config(self):
        self._job("pending", "root.qjsh_a", created=-5)
        self._pass(-60, -59, "queue_empty")
        channels = "root:3,root.qjsh_a:2"
        with patch.dict(os.environ, {"ODOO_QUEUE_JOB_CHANNELS": channels}):
            (info,) = self._warnings("info")
            self.assertIn(
                "configured by the server's channels option"
                if self.settings_in_records
                else "takes the channels from the server's channels option only",
                info,
            )
            stat = self._stat("root.qjsh_a")
            self.assertRecordValues(stat, [{"capacity": 2, "editable": False}])
            with self.assertRaises(UserError):
                stat.action_pause()
            with self.assertRaises(UserError):
                stat.action_open_channel()
        with patch.dict(os.environ, {"ODOO_QUEUE_JOB_CHANNELS": "root.x:2:sequential"}):
            self.assertIn("Invalid channel configuration", self._warnings("danger")[0])

    def test_channels_without_option(self):
        """No channels option: the records hold the settings where queue_job
        keeps them there, else queue_job's default applies (root:1)."""
        with patch.dict(os.environ):
            os.environ.pop("ODOO_QUEUE_JOB_CHANNELS", None)
            stat = self._stat("root")
            if self.settings_in_records:
                self.assertRecordValues(stat, [{"capacity": 6, "editable": True}])
                self.assertFalse(self._warnings("info"))
            else:
                self.assertRecordValues(stat, [{"capacity": 1, "editable": False}])
                self.assertIn("root:1 when it is not set", self._warnings("info")[0])

    # ------------------------------------------------------------------
    # Actions and access
    # ------------------------------------------------------------------
    def test_run_pass(self):
        Trigger = self.env["ir.cron.trigger"]
        before = Trigger.search([("cron_id", "in", self.crons.ids)])
        action = self.env[DASHBOARD].with_user(self.manager).action_run_pass()
        self.assertEqual(action["tag"], "display_notification")
        triggers = Trigger.search([("cron_id", "in", self.crons.ids)]) - before
        self.assertEqual(len(triggers), 1)
        self.crons.active = False
        with self.assertRaises(UserError):
            self.env[DASHBOARD].action_run_pass()

    def test_open_jobs(self):
        self._job("pending", "root.qjsh_a", created=-5)
        action = self._stat("root.qjsh_a").action_open_jobs()
        self.assertEqual(action["res_model"], "queue.job")
        self.assertEqual(
            action["domain"], [("channel", "in", ["root.qjsh_a", "qjsh_a"])]
        )

    def test_access_manager(self):
        self._job("pending", "root.qjsh_a", created=-5)
        env = self.env(user=self.manager)
        self.assertTrue(env[DASHBOARD].get_dashboard_data()["summary"])
        self.assertEqual(env[STAT].search([("name", "=", "root.qjsh_a")]).ready, 1)
        self.assertTrue(env[MINUTE].search([]))
        self._pass(-60, -59, "queue_empty")
        self.assertEqual(env["queue.job.sh.pass"].search_count([]), 1)
        stat = env[STAT].search([("name", "=", "root.qjsh_a")])
        self.assertEqual(stat.action_open_jobs()["res_model"], "queue.job")
        if self.settings_in_records:
            stat.action_pause()
            self.assertTrue(self.channel_a.paused)

    def test_access_denied(self):
        self._job("pending", "root.qjsh_a", created=-5)
        stat = self._stat("root.qjsh_a")
        self.env.invalidate_all()
        env = self.env(user=self.user)
        for call in (
            lambda: env[DASHBOARD].get_dashboard_data(),
            lambda: env[DASHBOARD].action_run_pass(),
            lambda: env[STAT].search([]),
            lambda: env[MINUTE].search([]),
            lambda: env["queue.job.sh.pass"].search([]),
            lambda: stat.with_user(self.user).action_pause(),
            lambda: stat.with_user(self.user).action_open_channel(),
        ):
            with self.assertRaises(AccessError):
                call()
        if self.settings_in_records:
            self.assertFalse(self.channel_a.paused)
