# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Running one claimed job with queue_job's own code.

The claim (``claim.py``) committed the job ``started`` with its lock row,
which is what queue_job's ``RunJobController._acquire_job`` commits before
it takes the job's lock; :func:`run_claimed` does the rest of what the
``/queue_job/runjob`` route does: ``Job.lock()``, then ``_runjob``.
"""

import logging
import traceback
from datetime import timedelta

from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.job import Job

from . import recovery
from .transactions import ConnectionLost, TransactionInProgress, lost, transaction

_logger = logging.getLogger(__name__)

# A job that cannot be loaded (its model, method or records unknown to this
# registry) is tried again this long after, a try counted, until it reaches
# its max_retries: a module install or upgrade under way may bring what it
# needs, and a registry that changed is reloaded before (run_claimed).
UNLOADABLE_RETRY = timedelta(minutes=1)


def run_claimed(env, claimed, registry_changed):
    """Transaction: run the claimed job ``claimed`` and commit its result.
    Returns its outcome (``done``, ``failed`` or ``retried``), or None
    when it was not run.

    The first statement takes the job's lock row (queue_job's
    ``Job.lock()``), held until the result is committed; the job is loaded
    after it, from the snapshot taken then. queue_job's ``_runjob`` runs it:
    ``perform()`` under queue_job's commit guard, ``set_done``, ``store``
    and its commit; a retry is postponed on a cursor of its own and this
    transaction rolled back; a failure is committed, with ``on_fail``, on a
    cursor of its own and raised. What ``_runjob`` leaves to its caller
    (the dependent jobs it enqueued) is committed here.

    A job that cannot be loaded is given back when ``registry_changed()``
    (another process installed or upgraded modules: the caller reloads the
    registry), and otherwise postponed or failed (:data:`UNLOADABLE_RETRY`).
    """
    cr = env.cr
    try:
        with transaction(cr):
            if not recovery.lock_started(cr, claimed.id):
                # only a dead runner's job can be taken from a live runner
                _logger.warning("Job %s could not be locked: not run", claimed.uuid)
                return None
            try:
                with cr.savepoint(flush=False):
                    job = Job.load(env, claimed.uuid)
            except Exception as error:
                return _unloadable(env, claimed, error, registry_changed)
            RunJobController._runjob(env, job)
    except TransactionInProgress:
        raise
    except Exception as error:
        if lost(error, cr):
            raise ConnectionLost(str(error)) from error
        # _runjob has logged the traceback and committed the failure
        return "failed"
    return "done" if job.state == "done" else "retried"


def _unloadable(env, claimed, error, registry_changed):
    """The job cannot be loaded; in the caller's transaction, which holds
    its lock. Returns the outcome."""
    if registry_changed():
        recovery.give_back(env.cr, claimed.id)
        return None
    message = (
        f"This job cannot be loaded, so it was not run: "
        f"{type(error).__name__}: {error}"
    )
    state = recovery.postpone_or_fail(
        env.cr,
        claimed.id,
        UNLOADABLE_RETRY,
        f"{type(error).__module__}.{type(error).__name__}",
        message,
        traceback.format_exc(),
    )
    _logger.error("Job %s: %s (now %s)", claimed.uuid, message, state)
    if state != "failed":
        return "retried"
    job = env["queue.job"].sudo().browse(claimed.id)
    try:
        with env.cr.savepoint():
            job._message_post_on_failure()
    except Exception:
        _logger.exception("Could not post the failure of job %s", claimed.uuid)
    return "failed"
