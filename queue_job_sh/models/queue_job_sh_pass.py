# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta

from odoo import api, fields, models

END_REASONS = [
    ("queue_empty", "Nothing left to start"),
    ("budget", "Time budget spent"),
    ("yielded", "Yielded: goes on in a new pass"),
    ("http_runner", "queue_job's HTTP jobrunner is active"),
    ("error", "Runner error"),
]


class QueueJobShPass(models.Model):
    """One run of a runner cron: what it did and why it stopped."""

    _name = "queue.job.sh.pass"
    _description = "Job Runner Pass"
    _order = "id desc"
    _log_access = False

    # Passes older than this are deleted by the autovacuum.
    RETENTION = timedelta(days=7)

    cron_id = fields.Many2one(
        "ir.cron", string="Runner", ondelete="cascade", index=True
    )
    pid = fields.Integer(string="Process", readonly=True)
    started_at = fields.Datetime(readonly=True, required=True, index=True)
    ended_at = fields.Datetime(readonly=True)
    done_count = fields.Integer(string="Done", readonly=True)
    failed_count = fields.Integer(string="Failed", readonly=True)
    retried_count = fields.Integer(string="Postponed", readonly=True)
    recovered_count = fields.Integer(string="Dead jobs recovered", readonly=True)
    end_reason = fields.Selection(END_REASONS, readonly=True)
    error = fields.Text(readonly=True)

    @api.autovacuum
    def _gc_passes(self):
        self.search(
            [("started_at", "<", fields.Datetime.now() - self.RETENTION)]
        ).unlink()
