# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Every way runners are woken, and the connections that carry it.

A runner cron runs when a cron worker finds it due: its ``nextcall`` (once
a minute) or one of its triggers (``ir.cron.trigger``) is reached. A
trigger due now also sends, after its transaction commits, a NOTIFY on
channel ``cron_trigger`` (Odoo's ``_notifydb``) that wakes the sleeping cron
workers at once. Runners are triggered:

- by :func:`wake_one` when a job is enqueued, requeued or postponed
  (``models/queue_job.py``), when the channels change
  (``models/queue_job_channel.py``), at install (``hooks.py``) and by the
  Runners screen's *Run a pass now*: one idle runner, now or at each ETA;
- by :func:`wake_idle_siblings` when a pass finds more work than it takes;
- by :func:`trigger`, a pass's own cron: when it hands over to a new pass
  (it yields, or its budget is spent with jobs ready) and, when its queue
  is empty, at the next moment something becomes possible;
- by :func:`wake_after_start` once a server is ready with jobs waiting.

A running pass is woken by queue_job's own NOTIFY (channel ``queue_job``,
sent by a trigger on ``queue_job`` for every committed change of a job):
:class:`JobNotifications`.

Both raw connections, the one that sends ``cron_trigger`` and a pass's
LISTEN, are :class:`KeptConnection`: one reconnect policy.
"""

import logging
import math
import os
import select
import threading
import time
from datetime import timedelta

import psycopg2
from psycopg2 import sql

from odoo import SUPERUSER_ID, api
from odoo.sql_db import connection_info_for
from odoo.tools import config

from odoo.addons.base.models import ir_cron

from .transactions import ConnectionLost

_logger = logging.getLogger(__name__)

# Seconds before each wake-up of the runners after the server's registry is
# ready: the threaded server's cron threads start listening right after it,
# a prefork server's new cron workers look for due crons at once; the later
# wakes are for slow starts.
STARTUP_WAKES = (0.2, 1, 3)


class KeptConnection:
    """An autocommit connection to database ``dbname``, opened at first use
    and opened again when the server ended it (a restart, an idle timeout):
    the one reconnect policy of the raw connections the runner keeps.
    ``on_connect(connection)`` prepares a new connection."""

    def __init__(self, dbname, on_connect=None):
        self.dbname = dbname
        self.on_connect = on_connect
        self.connection = None

    def connect(self):
        _dsn, info = connection_info_for(self.dbname)
        self.connection = psycopg2.connect(**info)
        self.connection.autocommit = True
        if self.on_connect:
            self.on_connect(self.connection)
        return self.connection

    def close(self):
        if self.connection is not None:
            self.connection.close()
        self.connection = None

    def run(self, function):
        """``function(connection)``; when the connection turns out to be
        gone, once more on a new one. Errors of a live connection, and of
        a database that does not answer, are raised."""
        for attempt in (1, 2):
            try:
                return function(self.connection or self.connect())
            except psycopg2.Error:
                if self.connection is None or not self.connection.closed:
                    raise
                self.close()
                if attempt == 2:
                    raise


# Per process id: the lock and the connection that send cron_trigger. A
# forked child makes its own and never touches (nor closes, which would end
# the parent's session) the one it inherited.
_CRON_WAKE_CONNECTIONS = {}


def notify_cron_workers(dbname):
    """Wake up the cron workers: Odoo's ``cron_trigger`` NOTIFY (same
    channel, payload, ``ODOO_NOTIFY_FUNCTION``), on a connection kept open
    by this process and shared by its threads under a lock. Odoo opens a
    new connection to the ``postgres`` database for each (its pool keeps
    none to that database): 10 to 40 ms after the commit of every
    transaction that enqueues a job (docs/bench.md)."""
    lock, kept = _CRON_WAKE_CONNECTIONS.setdefault(
        os.getpid(), (threading.Lock(), KeptConnection("postgres"))
    )
    query = sql.SQL("SELECT {}('cron_trigger', %s)").format(
        sql.Identifier(ir_cron.ODOO_NOTIFY_FUNCTION)
    )

    def notify(connection):
        with connection.cursor() as cr:
            cr.execute(query, (dbname,))

    with lock:
        kept.run(notify)


class JobNotifications:
    """Waits for queue_job's NOTIFY on channel ``queue_job``, for a pass, and
    this addon's on ``queue_job_sh`` (``module_operations.py``).

    The connection is opened lazily (most passes never wait), in autocommit
    so that it holds no transaction, and closed with the pass (:meth:`close`).
    """

    def __init__(self, dbname):
        self._kept = KeptConnection(
            dbname,
            lambda connection: connection.cursor().execute(
                "LISTEN queue_job; LISTEN queue_job_sh"
            ),
        )

    def close(self):
        self._kept.close()

    def wait(self, seconds):
        """Wait until a job changes, ``seconds`` at most. Raises
        ``ConnectionLost`` when the database does not answer."""
        if seconds <= 0:
            return
        try:
            if self._kept.connection is None:
                self._kept.connect()
                return  # jobs may have come while it connected: look again
            connection = self._kept.connection
            select.select([connection], [], [], seconds)
            connection.poll()
            connection.notifies.clear()
        except psycopg2.Error as error:
            self._kept.close()  # the next wait listens on a new connection
            raise ConnectionLost(str(error)) from error


def _runner_crons(env):
    return env["queue.job.sh.runner"]._runner_crons()


def wake_one(env, at_list=None):
    """Trigger one idle runner cron (one that runs no pass), or the first
    one when all are busy: now, or at each moment of ``at_list``."""
    crons = _runner_crons(env).filtered("active")
    if not crons:
        return
    busy = env["queue.job.sh.pass"]._busy_cron_ids()
    idle = crons.filtered(lambda cron: cron.id not in busy)
    # without a moment, Odoo's own "now", which decides its NOTIFY
    (idle or crons)[0]._trigger(at_list)


def wake_idle_siblings(env, cron):
    """Work is left over: trigger the runners other than ``cron`` that
    neither run a pass nor are already triggered."""
    siblings = _runner_crons(env).filtered("active") - cron
    busy = env["queue.job.sh.pass"]._busy_cron_ids()
    triggered = set(
        env["ir.cron.trigger"]
        .sudo()
        .search([("cron_id", "in", siblings.ids), ("call_at", "<=", env.cr.now())])
        .cron_id.ids
    )
    for sibling in siblings:
        if sibling.id not in busy and sibling.id not in triggered:
            sibling._trigger()


def trigger(cron, seconds=None):
    """Trigger ``cron`` now, or in ``seconds`` (by the database's clock)
    unless it is already triggered then."""
    if seconds is None:
        cron._trigger()
        return
    # whole seconds (as triggers are stored and searched), never early
    now = cron.env.cr.now()
    at = now.replace(microsecond=0) + timedelta(
        seconds=math.ceil(seconds + now.microsecond / 1e6)
    )
    already = (
        cron.env["ir.cron.trigger"]
        .sudo()
        .search_count([("cron_id", "=", cron.id), ("call_at", "=", at)])
    )
    if not already:
        cron._trigger(at)


def wake_after_start(registry):
    """Resume at once after a server start (a kill -9, a crash, a deploy).

    Odoo's cron threads first sleep up to a minute unless a NOTIFY wakes
    them, and a runner cron is due only once a minute. When jobs wait (or
    were left running by a dead worker), trigger a runner right after this
    registry is ready (:data:`STARTUP_WAKES`), from a thread of its own: the
    trigger row makes it due for the prefork cron workers, which look for
    due crons as soon as they start, and its NOTIFY wakes the threaded
    server's cron threads, which listen right after it.
    """
    if config["stop_after_init"]:
        return
    with registry.cursor() as cr:
        cr.execute(
            "SELECT 1 FROM queue_job "
            "WHERE state IN ('pending', 'enqueued', 'started') LIMIT 1"
        )
        if not cr.fetchone():
            return
    threading.Thread(
        target=_wake_when_ready,
        args=(registry,),
        name="queue_job_sh startup wake",
        daemon=True,
    ).start()


def _wake_when_ready(registry):
    ready_by = time.monotonic() + 300
    while not registry.ready:
        if time.monotonic() > ready_by:
            return
        time.sleep(0.2)
    for delay in STARTUP_WAKES:
        time.sleep(delay)
        try:
            # a transaction of its own, committed when the block ends:
            # the trigger row, and its NOTIFY after the commit
            with registry.cursor() as cr:
                wake_one(api.Environment(cr, SUPERUSER_ID, {}))
        except Exception:  # the server may be stopping: nothing to save
            _logger.debug("startup wake failed", exc_info=True)
