# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What runners and the Runners screen read of the queue, besides claims
(no Odoo import). Each read runs in the caller's transaction and takes no
lock."""

from . import recovery
from .transactions import transaction


def next_eta(cr):
    """When the next pending job with an ETA in the future becomes ready."""
    cr.execute(
        "SELECT min(eta) FROM queue_job "
        "WHERE state = 'pending' AND eta > (now() AT TIME ZONE 'UTC')"
    )
    return cr.fetchone()[0]


def ready_exists(cr):
    """Whether a pending job may start now (its ETA, if any, reached)."""
    cr.execute(
        "SELECT EXISTS (SELECT 1 FROM queue_job WHERE state = 'pending' "
        "AND (eta IS NULL OR eta <= (now() AT TIME ZONE 'UTC')))"
    )
    return cr.fetchone()[0]


def queue_job_runner_active(cr, advisory_lock_id):
    """Whether queue_job's HTTP jobrunner is serving this database.

    It holds the session advisory lock ``advisory_lock_id`` on a connection
    to each database it serves (``Database._acquire_master_lock``).
    """
    cr.execute(
        """
        SELECT 1 FROM pg_locks
         WHERE locktype = 'advisory' AND granted
           AND database = (SELECT oid FROM pg_database
                            WHERE datname = current_database())
           AND classid = %s AND objid = %s AND objsubid = 1
        """,
        (advisory_lock_id >> 32, advisory_lock_id & 0xFFFFFFFF),
    )
    return cr.fetchone() is not None


def moments_ahead(cr):
    """Transaction: in how many seconds something becomes possible without
    anyone committing: the next ETA reached, the next dead job recoverable
    (``recovery.next_recovery``); soonest first. Seconds from the
    database's clock, the one that ETAs are compared with. A read: its
    commit ends the transaction, so that the next one starts afresh."""
    with transaction(cr):
        moments = [next_eta(cr), recovery.next_recovery(cr)]
        cr.execute("SELECT now() AT TIME ZONE 'UTC'")
        now = cr.fetchone()[0]
    return sorted((moment - now).total_seconds() for moment in moments if moment)
