# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Database sessions: how the runner tells a live process from a dead one
(no Odoo import).

A pass claims and runs its jobs, and records itself, on one connection to
the database: one PostgreSQL session, identified by its backend's process id
and start time. PostgreSQL ends the session as soon as the process at the
other end is gone (a kill -9, an out-of-memory kill, a crash, the platform
stopping it: the kernel closes its socket), or when PostgreSQL itself
restarts. A session that still exists belongs to a process that still
runs, however slow or stalled it is (a GC pause, a stopped process, a slow
load): it keeps its jobs. No timer decides it.

The identity is (pid, backend start): a pid alone could be reused by a new
backend. The sessions are read in ``pg_stat_activity``, which shows the
start of the sessions of the same database role only; Odoo connects every
process of a database with one role. A session whose start cannot be read
is taken as alive when its pid is: the safe side.
"""

import threading
import weakref

# This session's identity, as two SQL expressions: its pid, and its start
# as a UTC timestamp without time zone (how Odoo keeps datetimes).
THIS_SESSION = (
    "pg_backend_pid()",
    "(SELECT backend_start AT TIME ZONE 'UTC' FROM pg_stat_activity "
    "WHERE pid = pg_backend_pid())",
)


def alive(pid, start):
    """SQL condition: the session (``pid``, ``start``), two SQL expressions
    as recorded from :data:`THIS_SESSION`, still exists."""
    return f"""EXISTS (SELECT 1 FROM pg_stat_activity session
                WHERE session.pid = {pid}
                  AND (session.backend_start AT TIME ZONE 'UTC' = {start}
                       OR session.backend_start IS NULL))"""


_IDENTITIES = weakref.WeakKeyDictionary()
_IDENTITIES_LOCK = threading.Lock()
_READ_IDENTITY = f"SELECT {THIS_SESSION[0]}, {THIS_SESSION[1]}"


def identity(cr):
    """The session of ``cr``'s connection, as (pid, backend start), read
    with a query in the current transaction the first time only: a
    connection is one session for its whole life, and reading
    ``pg_stat_activity`` takes tenths of a millisecond, which a claim would
    spend under its lock."""
    connection = cr.connection
    with _IDENTITIES_LOCK:
        known = _IDENTITIES.get(connection)
    if known is None:
        cr.execute(_READ_IDENTITY)
        known = tuple(cr.fetchone())
        with _IDENTITIES_LOCK:
            _IDENTITIES[connection] = known
    return known
