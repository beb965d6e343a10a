# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import os
import time

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.queue_job.exception import RetryableJobError

from . import stall


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

    def _register_hook(self):
        result = super()._register_hook()
        stall.install(self.env)
        return result

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
        """Raise RetryableJobError ``failures`` times, then succeed.

        Attempts are counted as rows ``attempt:<key>`` written on a cursor
        of their own, so the job's rollback keeps them."""
        started_at = time.time()
        with self.env.registry.cursor() as cr:
            attempts = self.env(cr=cr)[self._name]
            attempts._record(f"attempt:{key}", started_at)
            count = attempts.search_count([("key", "=", f"attempt:{key}")])
        if count <= failures:
            raise RetryableJobError(f"attempt {count}", seconds=seconds)
        self._record(key, started_at)

    def probe_fail(self, key):
        raise UserError(f"probe {key} fails on purpose")

    def probe_commit(self, key):
        """Commits inside the job: forbidden unless the job function allows
        commits."""
        started_at = time.time()
        self._record(key, started_at)
        self.env.cr.commit()  # pylint: disable=invalid-commit

    def probe_on_fail(self, exc_info=None, exc_name=None, exc_message=None):
        """An ``on_fail`` hook: leaves a row saying which failure it saw."""
        self._record(f"on_fail:{exc_message}", time.time())

    @api.model
    def enqueue(self, count, prefix="job", duration=0.0, channel=None, priority=None):
        """Enqueue ``count`` probe jobs (from a shell, RPC or a test)."""
        for number in range(count):
            key = f"{prefix}-{number}"
            self.with_delay(
                channel=channel, priority=priority, description=f"probe {key}"
            ).probe(key, duration=duration, channel=channel)
        return count
