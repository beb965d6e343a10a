# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The runner crons: run queue_job's jobs on Odoo's cron workers.

Each runner ``ir.cron`` record runs :meth:`QueueJobShRunner._run_pass`,
which assembles a pass: where it runs (``context.py``), its connection and
steps (``pass_steps.py``), its loop (``pass_loop.py``), and records it
(``queue.job.sh.pass``).

Odoo locks a cron record while it runs, so one record never runs twice at
once; parallelism is the number of runner records, kept equal to the root
channel's capacity by :meth:`_sync_runner_crons`.
"""

import logging
import os
import time
import traceback

from odoo import SUPERUSER_ID, api, models

from odoo.addons.queue_job.jobrunner import runner as queue_job_runner
from odoo.addons.queue_job.jobrunner.channels import ChannelManager

from .. import (
    channels,
    context,
    odoo_series,
    pass_steps,
    queue_state,
    recovery,
    wake,
)
from ..pass_loop import PassLoop, Steps
from ..transactions import transaction

_logger = logging.getLogger(__name__)

# Per database, the number of runner crons this process last synced them to
# (_sync_runner_crons).
_SYNCED_RUNNERS = {}


def http_runner_active(cr):
    """Whether queue_job's HTTP jobrunner serves this database."""
    return queue_state.queue_job_runner_active(cr, queue_job_runner.PG_ADVISORY_LOCK_ID)


def http_runner_warning(env):
    """What to say when :func:`http_runner_active`."""
    return env._(
        "queue_job's HTTP jobrunner is active on database %(db)s: the runner "
        "crons leave the jobs to it. Run only one of them: remove queue_job "
        "from server_wide_modules, or uninstall queue_job_sh.",
        db=env.cr.dbname,
    )


class QueueJobShRunner(models.AbstractModel):
    _name = "queue.job.sh.runner"
    _description = "Job Queue Runner on Cron Workers"

    # ------------------------------------------------------------------
    # Configuration: queue_job's channels
    # ------------------------------------------------------------------
    @api.model
    def _channels(self):
        """queue_job's channel configuration for this database
        (``channels.Channels``), read in the current transaction.

        Same sources and precedence as queue_job's runner: the ``channels``
        string (``ODOO_QUEUE_JOB_CHANNELS`` or ``[queue_job] channels``),
        unless :meth:`_channels_from_records`: then the ``queue.job.channel``
        records, with the root capacity bounded by ``max_capacity`` /
        ``db_max_capacity``.
        """
        if not self._channels_from_records():
            return channels.from_option(
                ChannelManager.parse_simple_config(queue_job_runner._channels())
            )
        self.env["queue.job.channel"].flush_model()
        self.env.cr.execute(
            "SELECT complete_name, capacity, sequential, throttle, paused, "
            "capacity_default, sequential_default FROM queue_job_channel"
        )
        db_max_capacity = queue_job_runner.db_max_capacity_for(
            self.env.cr.dbname,
            queue_job_runner.parse_db_max_capacity(queue_job_runner._db_max_capacity()),
            default=queue_job_runner._max_capacity(),
        )
        return channels.from_records(self.env.cr.fetchall(), max(0, db_max_capacity))

    @api.model
    def _channels_from_records(self):
        """Whether the ``queue.job.channel`` records configure the channels:
        the installed queue_job keeps channel settings in them, and its
        ``channels`` option is not set."""
        return (
            bool(odoo_series.channel_setting_fields(self.env))
            and not queue_job_runner._channels()
        )

    # ------------------------------------------------------------------
    # The runner crons
    # ------------------------------------------------------------------
    @api.model
    def _runner_crons(self):
        return (
            self.env["ir.cron"]
            .sudo()
            .with_context(active_test=False)
            .search([("model_id.model", "=", self._name)], order="id")
        )

    @api.model
    def _sync_runner_crons(self, if_changed=False):
        """Keep one runner cron per unit of the root channel's capacity, in
        the caller's transaction.

        With ``if_changed``, only when this process has not synced them to
        that number yet (a pass's start: a new process, new channels).
        """
        try:
            wanted = max(1, self._channels().root_capacity)
        except ValueError as error:
            _logger.error("Invalid queue_job channel configuration: %s", error)
            return
        if context.linger_configured():
            # a lingering pass holds its cron: a second one lets the next
            # cron worker start take over before the first pass ends
            wanted = max(2, wanted)
        if if_changed and _SYNCED_RUNNERS.get(self.env.cr.dbname) == wanted:
            return
        _SYNCED_RUNNERS[self.env.cr.dbname] = wanted
        crons = self._runner_crons()
        for number in range(len(crons) + 1, wanted + 1):
            self.env["ir.cron"].sudo().create(
                {
                    "name": f"Job Queue: runner {number}",
                    "model_id": self.env["ir.model"]._get_id(self._name),
                    "state": "code",
                    "code": "model._run_pass()",
                    "user_id": SUPERUSER_ID,
                    "interval_number": 1,
                    "interval_type": "minutes",
                    # after the other scheduled actions of a cron worker pass
                    "priority": 10,
                }
            )
        extra = crons[wanted:]
        if extra:
            # Only delete runners that are not running: a running cron is
            # row-locked by its cron worker, SKIP LOCKED passes it over (it
            # goes at a later sync). The lock taken here lasts until the
            # caller's commit.
            self.env.cr.execute(
                "SELECT id FROM ir_cron WHERE id = ANY(%s) "
                "FOR NO KEY UPDATE SKIP LOCKED",
                (extra.ids,),
            )
            idle = [row[0] for row in self.env.cr.fetchall()]
            extra.browse(idle).unlink()

    def _register_hook(self):
        result = super()._register_hook()
        wake.wake_after_start(self.env.registry)
        return result

    # ------------------------------------------------------------------
    # A pass
    # ------------------------------------------------------------------
    @api.model
    def _run_pass(self):
        """Entry point of the runner crons: a pass in the context of this
        thread and process."""
        self._run_pass_in(context.current())

    @api.model
    def _run_pass_in(self, pass_context):
        """Run a pass (``context.PassContext``) and record it. Never raises:
        a failing cron would end up deactivated by Odoo."""
        cron = odoo_series.running_cron(self.env)
        steps = pass_steps.PassSteps(self.env, cron)
        loop = None
        values = {"end_reason": "error"}
        try:
            runner = steps.env[self._name]
            record, http_runner = runner._start_pass(cron)
            steps.record = record
            # Progress before any job runs: a pass killed while it runs its
            # first job does not count as a timed-out cron (Odoo fails, then
            # deactivates, crons killed 3 times without progress).
            steps.progress(0)
            if http_runner:
                _logger.warning(http_runner_warning(steps.env))
                values["end_reason"] = "http_runner"
            else:
                loop = PassLoop(
                    Steps.of(steps),
                    time.time,
                    pass_context.deadline,
                    pass_context.in_cron_loop,
                    pass_context.lingers,
                )
                values["end_reason"] = loop.run()
        except Exception:
            _logger.exception("queue_job_sh runner pass failed")
            values["error"] = traceback.format_exc()
        if loop:
            values.update(
                done_count=loop.outcomes["done"],
                failed_count=loop.outcomes["failed"],
                retried_count=loop.outcomes["retried"],
                recovered_count=loop.recovered,
            )
        try:
            steps.env[self._name]._end_pass(cron, steps.record, values)
        except Exception:
            _logger.exception("queue_job_sh runner pass: its end was not recorded")
        steps.close()
        # Remaining is reported 0 even when work is left: the pass has
        # triggered its cron instead, because Odoo's immediate re-run loop
        # would share this pass's time limit.
        steps.progress(loop.ran if loop else 0, remaining=0)

    @api.model
    def _start_pass(self, cron):
        """Transaction: the start of a pass of ``cron``, on the pass's own
        connection; commit. It records the pass (``queue.job.sh.pass``) and,
        unless queue_job's HTTP jobrunner serves the database, makes the
        runner crons follow the root capacity if it changed, so that the
        siblings the pass wakes exist. Returns ``(pass record, whether the
        HTTP jobrunner is active)``."""
        with transaction(self.env.cr):
            record = self.env["queue.job.sh.pass"]._record_start(cron, os.getpid())
            http_runner = http_runner_active(self.env.cr)
            if not http_runner:
                self._sync_runner_crons(if_changed=True)
        return record, http_runner

    @api.model
    def _end_pass(self, cron, record, values):
        """Transaction: the end of a pass: the jobs it claimed and did not
        run given back (``recovery.give_back_unfinished``), its figures and
        end reason (a pass record made now if its start was not recorded),
        and the runner crons synced again, in case someone else changed the
        channels meanwhile; commit."""
        if not self.env.cr.connection.closed:
            self.env.cr.rollback()  # whatever a failed step left behind
        with transaction(self.env.cr):
            for uuid in recovery.give_back_unfinished(self.env.cr):
                _logger.warning("Job %s claimed and not run: given back", uuid)
            record = record.with_env(self.env) if record else None
            if not record:
                record = self.env["queue.job.sh.pass"]._record_start(cron, os.getpid())
            record._record_end(values)
            if values["end_reason"] != "http_runner":
                self._sync_runner_crons()
