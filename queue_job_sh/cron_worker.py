# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The prefork cron worker's sleep (Odoo's ``WorkerCron.sleep``), replaced.

A prefork server's cron worker loops on: check its limits, ping its
watchdog, ``sleep()``, look for due scheduled actions in one database. Its
sleep waits on a connection to the ``postgres`` database that LISTENs to
``cron_trigger`` (opened once, by ``WorkerCron.start``), so a NOTIFY wakes
it. The sleep here differs from Odoo's in two ways:

- when a cron worker should look for due scheduled actions at once rather
  than sleep, and how long it may sleep (:func:`_sleep`);
- what it does when PostgreSQL ends that connection (a restart): Odoo's
  worker raises out of its loop and exits, and the master forks a new one,
  which cannot connect while PostgreSQL is down and exits too, again and
  again; Odoo 19's master, serving the databases given with ``-d``, checks
  their registries before it forks a worker and dies itself. Here the
  worker waits for PostgreSQL and listens again on a new connection
  (:func:`_listen_again`), so nothing is respawned while the database is
  down.

The rest of the worker's loop is Odoo's. Its look for due scheduled
actions survives a lost connection by itself (``ir.cron._process_jobs``
logs the error and returns; the connection pool replaces dead connections
when they are borrowed again). Not covered, since this addon does not own
that code: with several databases (no ``db_name``), a worker lists them
before it looks for due crons, and exits if PostgreSQL went down between
its sleep and that listing; a worker that must be started while PostgreSQL
is down (one killed or recycled then) cannot open its LISTEN connection
and exits, and Odoo 19's master with ``-d`` dies before forking it.
"""

import logging
import os
import select
import time

import psycopg2

from odoo import sql_db
from odoo.service import server

from . import odoo_series

_logger = logging.getLogger(__name__)

# Seconds between two tries to reach PostgreSQL while a cron worker waits
# for it. The wait ends when PostgreSQL answers, however long that takes:
# this only bounds how late the worker notices.
RECONNECT_POLL = 0.25

# Prefork's watchdog counts from the last ping of the cron worker; record
# when that was, so that a pass knows how much time it has.
_pinged_at = None


def pinged_at():
    """When this prefork cron worker last pinged its watchdog (an epoch), or
    None outside a prefork cron worker."""
    return _pinged_at


def _sleep(worker):
    """WorkerCron.sleep, stamped, awake at once, short enough for its
    watchdog, surviving a lost LISTEN connection.

    Odoo's cron worker sleeps up to SLEEP_INTERVAL + 9 s (69 s) between two
    looks for due crons, waking early on a NOTIFY. Here:

    - its first sleep is skipped: a cron worker just started (a server
      start, a restart after a kill -9, a recycled worker) looks for due
      crons at once; the NOTIFYs sent before it listened (the runners'
      wake-ups at server start, jobs enqueued meanwhile) never reach it, so
      it would sleep a minute while jobs wait;
    - woken by a NOTIFY, it does not first sleep ``pid / 100 % 0.1`` s
      more (Odoo's way of spreading the workers' looks): a job enqueued on
      an idle server would wait for it, and the workers' looks take
      distinct crons anyway (SKIP LOCKED);
    - its watchdog counts that sleep: with a ``limit_time_real_cron`` below
      it, an idle worker would be killed in its sleep again and again and
      run no cron at all unless a NOTIFY comes, so the jobs of a worker
      killed at its limit would never be recovered. Such a worker sleeps at
      most a quarter of its limit instead, which leaves a pass woken by that
      timeout some time (budget.py keeps 5 s of margin);
    - when PostgreSQL ended its LISTEN connection, it waits for PostgreSQL
      to answer again and listens on a new connection, then looks for due
      crons at once (:func:`_listen_again`).
    """
    global _pinged_at
    first_sleep = _pinged_at is None
    # Worker._runloop pinged the watchdog right before calling sleep()
    _pinged_at = time.time()
    listener = worker.dbcursor._cnx
    if listener.closed:
        # the last wait for PostgreSQL ended without it (the master is
        # gone, the worker is on its way out); select would raise on it
        _listen_again(worker)
        return
    if first_sleep or not odoo_series.cron_worker_will_sleep(worker):
        return
    interval = server.SLEEP_INTERVAL + worker.pid % 10
    limit = worker.watchdog_timeout
    if limit and limit <= server.SLEEP_INTERVAL + 10:
        interval = limit / 4
    readable, _, _ = select.select([worker.wakeup_fd_r, listener], [], [], interval)
    server.empty_pipe(worker.wakeup_fd_r)
    if listener not in readable:
        return
    try:
        # read what woke the worker: NOTIFYs, which WorkerCron.process_work
        # finds in listener.notifies
        listener.poll()
        # A connection that PostgreSQL ended is readable twice: its last
        # message (the FATAL of a shutdown) reads without error, the end of
        # the stream that follows raises. Reading again when more is there
        # finds that end in this sleep, before the worker looks for due
        # crons on a server that is down (with several databases, their
        # listing fails and the worker exits).
        if select.select([listener], [], [], 0)[0]:
            listener.poll()
    except psycopg2.OperationalError:
        _listen_again(worker)


def _listen_again(worker):
    """Wait until PostgreSQL answers, then LISTEN on a new connection.

    The cron worker stays in its loop instead of exiting: it pings its
    watchdog while it waits, as its loop does before each sleep, so that
    ``limit_time_real_cron`` does not kill it, and the master has nothing
    to respawn (Odoo 19's master dies when it cannot check the registries
    before forking a worker). The wait ends when PostgreSQL accepts a
    connection again, polled every RECONNECT_POLL seconds, or when the
    worker is told to stop (SIGINT sets ``alive``; the signal's wake-up pipe
    interrupts the wait) or its master is gone (its loop's next limit check
    then ends it). Its other limits (age, memory, requests) are checked by
    its loop once it listens again: a worker that reaches one is replaced
    when PostgreSQL can serve the new one. NOTIFYs sent while the
    connection was down are lost: the worker then looks for due crons at
    once, without sleeping.
    """
    global _pinged_at
    _logger.warning(
        "WorkerCron (%s) lost its connection to PostgreSQL: waiting for it",
        worker.pid,
    )
    lost_at = time.monotonic()
    # Dead: closing it lets Odoo's pool drop it (borrow() removes closed
    # connections); closing the cursor would try a rollback on it and fail.
    worker.dbcursor._cnx.close()
    while worker.alive and worker.ppid == os.getppid():
        worker.multi.pipe_ping(worker.watchdog_pipe)
        _pinged_at = time.time()
        if _postgresql_answers():
            try:
                worker.dbcursor = _listening_cursor()
            except psycopg2.OperationalError as error:
                # it went down again between the two connections
                _logger.info(
                    "WorkerCron (%s) could not listen again yet: %s", worker.pid, error
                )
            else:
                _logger.info(
                    "WorkerCron (%s) listens again, %.1f s after the connection "
                    "to PostgreSQL was lost",
                    worker.pid,
                    time.monotonic() - lost_at,
                )
                return
        select.select([worker.wakeup_fd_r], [], [], RECONNECT_POLL)
        server.empty_pipe(worker.wakeup_fd_r)


def _postgresql_answers():
    """Whether PostgreSQL accepts a connection to its ``postgres`` database.

    Tried on a connection of its own, closed at once: Odoo's connection
    pool would log every refused connection, several times a second while
    PostgreSQL is down.
    """
    try:
        psycopg2.connect(**sql_db.connection_info_for("postgres")[1]).close()
    except psycopg2.OperationalError:
        return False
    return True


def _listening_cursor():
    """A cursor on the ``postgres`` database that LISTENs to cron_trigger,
    opened as ``WorkerCron.start`` opens the worker's ``dbcursor``.

    Commits its one transaction: a LISTEN takes effect at commit.
    """
    cursor = sql_db.db_connect("postgres").cursor()
    try:
        # LISTEN / NOTIFY doesn't work in recovery mode
        cursor.execute("SELECT pg_is_in_recovery()")
        if not cursor.fetchone()[0]:
            cursor.execute("LISTEN cron_trigger")
        else:
            _logger.warning("PG cluster in recovery mode, cron trigger not activated")
        cursor.commit()
    except psycopg2.OperationalError:
        # as above: the pool drops a closed connection
        cursor._cnx.close()
        raise
    return cursor


server.WorkerCron.sleep = _sleep
