# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import os
import time

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.queue_job.exception import RetryableJobError


class Probe(models.Model):
    """One row per successful run of a probe job, written in the job's own
    transaction: a job run twice shows twice, a lost one not at all."""

    _name = "test.queue.job.sh.probe"
    _description = "Probe job run"

    key = fields.Char(index=True, required=True)
    channel = fields.Char()
    pid = fields.Integer()
    started_at = fields.Float(digits=(16, 6), help="epoch seconds")
    ended_at = fields.Float(digits=(16, 6), help="epoch seconds")

    def _record(self, key, started_at, channel=None):
        self.create(
            {
                "key": key,
                "channel": channel,
                "pid": os.getpid(),
                "started_at": started_at,
                "ended_at": time.time(),
            }
        )

    def probe(self, key, duration=0.0, channel=None):
        started_at = time.time()
        if duration:
            time.sleep(duration)
        self._record(key, started_at, channel)

    def probe_retry(self, key, failures=1, seconds=1):
        """Raise RetryableJobError ``failures`` times, then succeed."""
        started_at = time.time()
        attempts = int(self.env["ir.config_parameter"].sudo().get_param(key, 0)) + 1
        # counted on a cursor of its own, so the rollback keeps it
        with self.env.registry.cursor() as cr:
            self.env(cr=cr)["ir.config_parameter"].sudo().set_param(key, attempts)
        if attempts <= failures:
            raise RetryableJobError(f"attempt {attempts}", seconds=seconds)
        self._record(key, started_at)

    def probe_fail(self, key):
        raise UserError(f"probe {key} fails on purpose")

    @api.model
    def enqueue(self, count, prefix="job", duration=0.0, channel=None, priority=None):
        """Enqueue ``count`` probe jobs (from a shell, RPC or a test)."""
        for number in range(count):
            key = f"{prefix}-{number}"
            self.with_delay(
                channel=channel, priority=priority, description=f"probe {key}"
            ).probe(key, duration=duration, channel=channel)
        return count
