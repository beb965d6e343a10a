# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Module operations from Apps, with the runners out of the way.

Odoo refuses to install, upgrade or uninstall modules from Apps while any
scheduled action runs: it locks every ``ir_cron`` row with NOWAIT first
("Odoo is currently processing a scheduled action"). A lingering pass (on
Odoo.sh) keeps its runner cron running for minutes, and the next one
follows: without this, Apps would refuse almost always.

So the request records its database session (``sessions.py``) as waiting
for a module operation, wakes the passes, and waits until no scheduled
action runs; a pass that sees such a request ends
(``pass_loop.MODULE_OPERATION``), and no pass starts work while it exists.
The request is forgotten when it ends, or when its session does (its
process died): no timer decides it.
"""

import time
from contextlib import contextmanager

from . import sessions

# How long a module operation waits for the scheduled actions to end
# (seconds): the time a pass needs to finish the job it runs. Past it,
# Odoo's own check decides, and refuses while one still runs.
CRONS_END_WAIT = 30
# Seconds between two looks at the scheduled actions still running.
CRONS_END_POLL = 0.1

_WAITING = f"""
    SELECT EXISTS (SELECT 1 FROM queue_job_sh_module_operation op
                    WHERE {sessions.alive("op.backend_pid", "op.backend_start")})
"""
_RECORD = """
    INSERT INTO queue_job_sh_module_operation (backend_pid, backend_start)
    VALUES (%s, %s) ON CONFLICT DO NOTHING;
    SELECT pg_notify('queue_job_sh', 'module operation')
"""
_FORGET = """
    DELETE FROM queue_job_sh_module_operation
     WHERE backend_pid = %s AND backend_start = %s
"""
# Odoo's own condition (ir.module.module._button_immediate_function), as a
# question: every ir_cron row can be locked, none is held by a cron worker.
# The locks go with the transaction, rolled back at once.
_CRONS_FREE = """
    SELECT count(*) = (SELECT count(*) FROM ir_cron)
      FROM (SELECT 1 FROM ir_cron FOR UPDATE SKIP LOCKED) free
"""


def waiting(cr):
    """Whether a module operation waits for the runners (a read in the
    caller's transaction)."""
    cr.execute(_WAITING)
    return cr.fetchone()[0]


@contextmanager
def runners_aside(env):
    """Run the block, a module operation of the request of ``env``, once no
    scheduled action runs (at most :data:`CRONS_END_WAIT`)."""
    session = sessions.identity(env.cr)
    # a transaction of its own, committed when the block ends, so that the
    # passes see the request while it waits
    with env.registry.cursor() as cr:
        cr.execute(_RECORD, session)
    try:
        give_up_at = time.monotonic() + CRONS_END_WAIT
        while not _crons_free(env.registry) and time.monotonic() < give_up_at:
            time.sleep(CRONS_END_POLL)
        _end_request_transaction(env.cr)
        yield
    finally:
        # the table is gone when the operation uninstalled this addon
        with env.registry.cursor() as cr:
            cr.execute("SELECT to_regclass('queue_job_sh_module_operation')")
            if cr.fetchone()[0]:
                cr.execute(_FORGET, session)


def _end_request_transaction(cr):
    """Commit what the request did so far (Odoo commits it a moment later
    anyway, before the module operation itself), so that Odoo's lock of
    every ``ir_cron`` row reads the rows in a new snapshot: the cron
    workers that ended meanwhile updated them (``nextcall``), and a lock of
    a row updated after the snapshot fails (REPEATABLE READ)."""
    cr.commit()  # pylint: disable=invalid-commit


def _crons_free(registry):
    """Whether no scheduled action runs now, read in a transaction of its
    own (the request's snapshot would not see them end), rolled back."""
    with registry.cursor() as cr:
        cr.execute(_CRONS_FREE)
        free = cr.fetchone()[0]
        cr.rollback()
    return free
