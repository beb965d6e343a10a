# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The Odoo side of a pass: its own connection, and the steps that
``pass_loop.PassLoop`` decides about.

A pass runs its transactions on a connection of its own, an Odoo cursor
from the registry's pool, apart from the two that Odoo's cron machinery
holds while the pass runs: the cron transaction that locks the runner's
``ir.cron`` record for the whole pass, and the one in which the server
action runs (``env.cr`` of ``_run_pass``), where the pass reports its
progress. No statement of a pass can slip into Odoo's transactions, or the
other way round; and a pass that loses its connection (PostgreSQL
restarted) opens a new one and goes on, while Odoo's are lost for good.
"""

import contextlib
import functools
import logging
import os
import time

import psycopg2

from odoo import SUPERUSER_ID, api

from . import (
    claim,
    module_operations,
    odoo_series,
    queue_state,
    recovery,
    run_job,
    wake,
)
from .transactions import ConnectionLost, lost, retrying, transaction

_logger = logging.getLogger(__name__)

# Seconds between two attempts to reach a database that went away.
RECONNECT_POLL = 0.2


class _QuietCursor:
    """Odoo's cursor, minus its ERROR log of the queries that fail.

    Odoo logs every failing query as "bad query" before raising. Claims and
    recoveries are expected to lose races now and then (serialization
    failures): those are retried quietly (``transactions.retrying``), and
    any other error reaches the pass, which logs it.
    """

    def __init__(self, cr):
        self._cr = cr

    def execute(self, query, params=None):
        return self._cr.execute(query, params, log_exceptions=False)

    def __getattr__(self, name):
        return getattr(self._cr, name)


def _on_pass_connection(step):
    """A step whose database errors mean ``ConnectionLost`` when the pass's
    connection is gone."""

    @functools.wraps(step)
    def guarded(self, *args):
        try:
            return step(self, *args)
        except psycopg2.Error as error:
            if lost(error, self.cr):
                raise ConnectionLost(str(error)) from error
            raise

    return guarded


class PassSteps:
    """The steps of one pass of runner cron ``cron``, on a connection of
    their own (``cr``, ``env``).

    ``odoo_env`` is the environment Odoo's cron runs the server action in,
    where progress is reported. ``record`` is the pass's record
    (``queue.job.sh.pass``), once made.
    """

    def __init__(self, odoo_env, cron):
        self.odoo_env = odoo_env
        self.cron_id = cron.id
        self.registry = odoo_env.registry
        self.cr = self.registry.cursor()
        self.env = api.Environment(self.cr, SUPERUSER_ID, {})
        self.record = None
        self.channels = None
        self.odoo_cursor_lost = False
        self.notifications = wake.JobNotifications(self.cr.dbname)
        self._reload_registry = False

    def close(self):
        """Close the pass's connections. A lost one fails to roll back as
        it closes: Odoo's pool drops it at its next use all the same."""
        self.notifications.close()
        cr, self.cr = self.cr, None
        if cr is not None:
            with contextlib.suppress(psycopg2.Error):
                cr.close()

    @property
    def cron(self):
        return self.env["ir.cron"].browse(self.cron_id)

    def wait(self, seconds):
        """Wait for a job to be enqueued or changed, ``seconds`` at most."""
        self.notifications.wait(seconds)

    @_on_pass_connection
    def refresh(self):
        """Transaction: read the channel configuration again, whether
        another process changed the registry (Odoo's registry signaling: a
        module installed or upgraded) and whether a module operation waits
        for the runners; a read, ended by its commit. A changed registry is
        reloaded, as Odoo's cron does before each scheduled action. Returns
        whether a module operation waits."""
        with transaction(self.cr):
            self.channels = self.env["queue.job.sh.runner"]._channels()
            self._check_registry()
            operation_waits = module_operations.waiting(self.cr)
        self._reload_if_changed()
        return operation_waits

    def _check_registry(self):
        """Whether the registry changed, in the current transaction; Odoo
        loads the new one then, and this pass moves to it after the
        transaction (:meth:`_reload_if_changed`)."""
        registry = self.env.registry
        self._reload_registry = registry.check_signaling(self.cr) is not registry
        return self._reload_registry

    def _reload_if_changed(self):
        if self._reload_registry:
            self._reload_registry = False
            self.env.transaction.reset()
            self.registry = self.env.registry
            _logger.info("Runner pass: moved to the reloaded registry")

    def claim(self):
        """Start a job (``claim.claim``: a transaction), tried again when it
        loses races."""
        return retrying(claim.claim, _QuietCursor(self.cr), self.channels, os.getpid())

    def run(self, job):
        """Run a claimed job (``run_job.run_claimed``: a transaction)."""
        outcome = run_job.run_claimed(self.env, job, self._check_registry)
        self._reload_if_changed()
        return outcome

    @_on_pass_connection
    def recover(self):
        """Requeue the jobs of dead runners (``recovery.requeue_dead_jobs``:
        a transaction), then tell about those that failed for good."""
        recovered = retrying(recovery.requeue_dead_jobs, _QuietCursor(self.cr)) or []
        failed = []
        for uuid, state in recovered:
            _logger.warning("Job %s found dead: set %s", uuid, state)
            if state == "failed":
                failed.append(uuid)
        if failed:
            self._post_failures(failed)
        return len(recovered)

    def _post_failures(self, uuids):
        """Transaction: the failure messages of the jobs ``uuids`` (queue_job's
        chatter on failed jobs); commit."""
        with transaction(self.cr):
            jobs = self.env["queue.job"].search([("uuid", "in", uuids)])
            jobs._message_post_on_failure()

    @_on_pass_connection
    def moments_ahead(self):
        return queue_state.moments_ahead(self.cr)

    @_on_pass_connection
    def ready_left(self):
        """Transaction: whether a job may start now; a read, ended by its
        commit."""
        with transaction(self.cr):
            ready = queue_state.ready_exists(self.cr)
        return ready

    @_on_pass_connection
    def wake_siblings(self):
        """Transaction: trigger the idle sibling runners; commit (their
        NOTIFY goes after it)."""
        with transaction(self.cr):
            wake.wake_idle_siblings(self.env, self.cron)

    @_on_pass_connection
    def trigger(self, seconds):
        """Transaction: trigger this pass's runner cron, now or in
        ``seconds``; commit (its NOTIFY goes after it)."""
        if not self.cron_id:  # a pass run outside a cron
            return
        with transaction(self.cr):
            wake.trigger(self.cron, seconds)

    def progress(self, done, remaining=1):
        """Tell Odoo's cron that ``done`` jobs ran and whether some remain,
        in Odoo's transaction, committed (``odoo_series.commit_progress``;
        at least one done, or Odoo would take the pass for a cron that does
        not report progress); nothing once that connection was lost."""
        if self.odoo_cursor_lost:
            return
        try:
            odoo_series.commit_progress(
                self.odoo_env, done=max(1, done), remaining=remaining
            )
        except psycopg2.Error as error:
            if not lost(error, self.odoo_env.cr):
                raise
            self.odoo_cursor_lost = True

    def reconnect(self, deadline):
        """The connection was lost: wait until PostgreSQL answers again (or
        ``deadline``), then go on with a new connection, on which the pass
        is recorded as running. Odoo's own connections were lost with it:
        progress is no longer reported."""
        self.odoo_cursor_lost = True
        self.close()
        _logger.warning("Runner pass: the database connection was lost")
        while True:
            try:
                self.cr = self.registry.cursor()
                self.env = api.Environment(self.cr, SUPERUSER_ID, {})
                self._record_moved()
                break
            except psycopg2.Error:
                self.close()
                if time.time() >= deadline:
                    return False
                time.sleep(RECONNECT_POLL)
        _logger.info("Runner pass: connected again")
        return True

    def _record_moved(self):
        """Transaction: the pass runs on the new connection's session;
        commit, so that it shows as running."""
        with transaction(self.cr):
            if self.record:
                self.record.with_env(self.env)._record_moved()
