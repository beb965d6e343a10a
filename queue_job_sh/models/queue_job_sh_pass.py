# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools.sql import create_index

from .. import sessions
from ..pass_loop import (
    BUDGET,
    CONNECTION_LOST,
    MODULE_OPERATION,
    QUEUE_EMPTY,
    YIELDED,
)

END_REASONS = [
    (QUEUE_EMPTY, "Nothing left to start"),
    (BUDGET, "Time budget spent"),
    (YIELDED, "Yielded: goes on in a new pass"),
    (CONNECTION_LOST, "Database connection lost"),
    (MODULE_OPERATION, "Stepped aside for a module operation"),
    ("http_runner", "queue_job's HTTP jobrunner is active"),
    ("error", "Runner error"),
]

# A pass is running while it has not ended and the database session it
# runs on exists (sessions.py): a pass whose process died is not.
_RUNNING = f"""ended_at IS NULL
           AND {sessions.alive("backend_pid", "backend_start")}"""
_BUSY_CRONS = f"SELECT DISTINCT cron_id FROM queue_job_sh_pass WHERE {_RUNNING}"
_RUNNING_COUNT = f"SELECT count(*) FROM queue_job_sh_pass WHERE {_RUNNING}"
_STARTED_SINCE = f"""
    SELECT EXISTS (SELECT 1 FROM queue_job_sh_pass
                    WHERE started_at > (now() AT TIME ZONE 'UTC') - %s
                       OR {_RUNNING})
"""
# Bookkeeping commits do not wait for the disk: see QueueJobShPass._record_start.
_START = """
    SET LOCAL synchronous_commit TO OFF;
    SELECT now() AT TIME ZONE 'UTC'
"""
_MOVE = """
    UPDATE queue_job_sh_pass SET backend_pid = %s, backend_start = %s
     WHERE id = %s
"""


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
    backend_pid = fields.Integer(
        string="Database Session",
        readonly=True,
        help="Process id of the PostgreSQL session the pass runs on",
    )
    backend_start = fields.Datetime(string="Database Session Start", readonly=True)
    started_at = fields.Datetime(readonly=True, required=True, index=True)
    ended_at = fields.Datetime(readonly=True, index=True)
    done_count = fields.Integer(string="Done", readonly=True)
    failed_count = fields.Integer(string="Failed", readonly=True)
    retried_count = fields.Integer(string="Postponed", readonly=True)
    recovered_count = fields.Integer(string="Dead jobs recovered", readonly=True)
    end_reason = fields.Selection(END_REASONS, readonly=True)
    error = fields.Text(readonly=True)

    def init(self):
        # the passes that have not ended, read by every wake-up
        create_index(
            self.env.cr,
            "queue_job_sh_pass_running_index",
            self._table,
            ["cron_id"],
            where="ended_at IS NULL",
        )

    @api.model
    def _record_start(self, cron, pid):
        """Record that a pass of ``cron`` starts now in process ``pid``, on
        this cursor's session, in the caller's transaction. Bookkeeping: that
        transaction's commit does not wait for the disk (a crash of
        PostgreSQL could lose the record of the start only, and the end of
        the pass writes its figures again)."""
        self.env.cr.execute(_START)
        now = self.env.cr.fetchone()[0]
        backend_pid, backend_start = sessions.identity(self.env.cr)
        return self.sudo().create(
            {
                "cron_id": cron.id,
                "pid": pid,
                "started_at": now,
                "backend_pid": backend_pid,
                "backend_start": backend_start,
            }
        )

    def _record_moved(self):
        """Record that the pass runs on this cursor's session from now on
        (it connected again after losing its connection), in the caller's
        transaction."""
        self.env.cr.execute(_MOVE, (*sessions.identity(self.env.cr), self.id))

    def _record_end(self, values):
        """Record the end of the pass with ``values`` (its figures, why it
        ended), in the caller's transaction."""
        self.env.cr.execute("SELECT now() AT TIME ZONE 'UTC'")
        self.sudo().write(dict(values, ended_at=self.env.cr.fetchone()[0]))

    @api.model
    def _busy_cron_ids(self):
        """The runner crons that run a pass now."""
        self.env.cr.execute(_BUSY_CRONS)
        return {row[0] for row in self.env.cr.fetchall()}

    @api.model
    def _running_count(self):
        """How many passes run now."""
        self.env.cr.execute(_RUNNING_COUNT)
        return self.env.cr.fetchone()[0]

    @api.model
    def _started_since(self, delay):
        """Whether a pass started in the last ``delay`` (a timedelta, by the
        database's clock) or runs now."""
        self.env.cr.execute(_STARTED_SINCE, (delay,))
        return self.env.cr.fetchone()[0]

    @api.autovacuum
    def _gc_passes(self):
        self.search(
            [("started_at", "<", fields.Datetime.now() - self.RETENTION)]
        ).unlink()
