# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""How the runner's transactions begin, end and fail (no Odoo import).

Each transaction of a pass (claim, run one job, recover, bookkeeping) is
one function that opens it with :func:`transaction` and says in its
docstring what it commits and why. The cursor is Odoo's (or, in the engine
tests, one with the same interface): ``execute``, ``fetch*``, ``commit()``,
``rollback()`` and ``connection``, the psycopg2 connection.
"""

import contextlib
import random
import time

import psycopg2
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

# Serialization failure, deadlock, lock not available: what PostgreSQL
# reports when runners race for the same rows (Odoo retries requests on
# the same codes, odoo.service.model.PG_CONCURRENCY_ERRORS_TO_RETRY).
CONCURRENCY_ERRORS = ("40001", "40P01", "55P03")
# Tries of a transaction that keeps losing such races.
CONCURRENCY_TRIES = 5


class TransactionInProgress(RuntimeError):
    """A transaction of the runner was asked to start on a connection that
    is already in one: its snapshot could predate what it must see."""


class ConnectionLost(Exception):
    """The connection to PostgreSQL is gone (a restart, a network cut)."""


@contextlib.contextmanager
def transaction(cr):
    """One transaction on ``cr``: begins with the block's first statement,
    commits when the block ends, rolls back when it raises.

    The connection must not be in a transaction already: under REPEATABLE
    READ (Odoo's isolation level) a transaction sees the database as of its
    first statement, and the claim's correctness rests on its snapshot
    being taken after its lock (``claim.py``). A statement left open by
    someone else would silently give it an older one; here it fails loudly.
    """
    if cr.connection.info.transaction_status != TRANSACTION_STATUS_IDLE:
        raise TransactionInProgress(
            "a runner transaction must start on a connection that is in none "
            "(commit or roll back first)"
        )
    try:
        yield cr
    except BaseException:
        if not cr.connection.closed:
            cr.rollback()
        raise
    cr.commit()  # pylint: disable=invalid-commit


def lost(error, cr):
    """Whether ``error``, raised on ``cr``, means the connection is gone."""
    return isinstance(error, psycopg2.Error) and bool(cr.connection.closed)


def retrying(function, cr, *args):
    """``function(cr, *args)``, a transaction, tried again when it loses a
    race with another runner (a concurrency error: it rolled back), a few
    times with a random back-off; None when it kept losing. A lost
    connection raises :class:`ConnectionLost`."""
    for attempt in range(CONCURRENCY_TRIES):
        try:
            return function(cr, *args)
        except psycopg2.Error as error:
            if lost(error, cr):
                raise ConnectionLost(str(error)) from error
            if error.pgcode not in CONCURRENCY_ERRORS:
                raise
            time.sleep(random.uniform(0, 0.05 * 2**attempt))
    return None
