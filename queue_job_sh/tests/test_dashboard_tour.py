# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The Runners screen in a real browser (headless Chromium)."""

import os
from unittest.mock import patch

from odoo.tests import HttpCase, tagged

from .. import odoo_series
from .dashboard_common import DashboardDataMixin

URL = "/odoo/action-queue_job_sh.queue_job_sh_dashboard_action"
# The channels of the records below, in queue_job's channels option.
CHANNELS = "root:6,root.import:4,root.mail:2,root.export:1:paused"


@tagged("post_install", "-at_install")
class TestDashboardTour(DashboardDataMixin, HttpCase):
    browser_size = "1366x1350"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_dashboard_data()
        Channel = cls.env["queue.job.channel"]
        root = Channel.search([("complete_name", "=", "root")])
        cls.channel = Channel.create({"name": "import", "parent_id": root.id})
        mail = Channel.create({"name": "mail", "parent_id": root.id})
        export = Channel.create({"name": "export", "parent_id": root.id})
        cls.settings_in_records = bool(odoo_series.channel_setting_fields(cls.env))
        if cls.settings_in_records:
            root.capacity = 6
            cls.channel.capacity = 4
            mail.capacity = 2
            export.write({"capacity": 1, "paused": True})
        else:
            cls.startClassPatcher(
                patch.dict(os.environ, {"ODOO_QUEUE_JOB_CHANNELS": CHANNELS})
            )
            cls.env["queue.job.sh.runner"]._sync_runner_crons()
        for created in (-300, -120, -30):
            cls._job("pending", "root.import", created=created)
        for eta in (600, 1200):
            cls._job("pending", "root.import", created=-60, eta=eta)
        cls._job("started", "root.import", created=-10, started=-4)
        cls._job("failed", "root.import", created=-4000)
        cls._job("started", "root.mail", created=-8000, started=-7300)  # stuck
        cls._job("enqueued", "root.mail", created=-1)
        for created in range(-1800, 0, 400):
            cls._job("pending", "root.export", created=created)
        # a job done every few seconds over the last hour
        for second in range(-3590, 0, 45):
            latency = 1 + (second * 7) % 13
            start = second - 2
            cls._job(
                "done",
                "root.mail" if second % 2 else "root.import",
                created=start - latency,
                started=start,
                done=second,
            )
        crons = cls.env["queue.job.sh.runner"]._runner_crons()
        for minute in range(20, 0, -1):
            cls._pass(
                -minute * 60,
                -minute * 60 + (50 if minute == 7 else 3),
                "budget" if minute == 7 else "queue_empty",
                cron=crons[minute % 2],
                done=minute % 4,
            )
        cls._pass(-5, cron=crons[2])

    def test_runners_dashboard(self):
        """The screen with the channel settings where this queue_job keeps
        them: in records, the screen pauses a channel; then (and with a
        queue_job that keeps none in records, only) in the channels option,
        read-only figures."""
        if self.settings_in_records:
            self.start_tour(URL, "queue_job_sh_runners_dashboard", login="admin")
            self.assertTrue(self.channel.paused)
        with patch.dict(os.environ, {"ODOO_QUEUE_JOB_CHANNELS": CHANNELS}):
            self.start_tour(URL, "queue_job_sh_runners_dashboard_option", login="admin")
