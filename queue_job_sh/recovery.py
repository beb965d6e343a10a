# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Jobs whose runner died, and jobs a runner gives back (no Odoo import).

A job ``started`` by this addon's claim lives as long as the database
session that claimed it (``sessions.py``, recorded in
``queue_job_sh_job_runner``): that session is the runner's, which takes
the job's lock row in the first statement of the transaction that runs it
and holds it until the result is committed. Whatever happens in between (a
GC pause, a stopped process, a slow load), the session exists, so the job
is left alone; once it is gone (the process died, PostgreSQL restarted),
the job is recovered at once.

A job ``started`` or ``enqueued`` by someone else (queue_job's own runner)
follows queue_job's rule: its lock row is free, or missing for a job
enqueued but never started, :data:`DEAD_JOB_GRACE` after it was enqueued.
"""

from datetime import timedelta

from . import sessions
from .transactions import transaction

# queue_job's own requeuer waits this long after a job was enqueued before
# it takes a free lock row for a dead runner's (jobrunner/runner.py).
DEAD_JOB_GRACE = timedelta(seconds=10)

# The runner recorded for the job's current start, if any.
_RECORDED_RUNNER = """
    LEFT JOIN queue_job_sh_job_runner runner
           ON runner.queue_job_id = job.id
          AND runner.started_at = job.date_started
"""
_NOW = "(now() AT TIME ZONE 'UTC')"

# Dead jobs. The CASE fixes the order of evaluation: a job whose runner
# lives (its session exists, or it is within queue_job's grace) is never
# probed, because the probe (FOR NO KEY UPDATE SKIP LOCKED on its lock row,
# held until this transaction ends) could make a runner about to lock its
# job give it up. The others are dead when nobody holds their lock row, or
# when it is missing (enqueued, never started).
_REQUEUE_DEAD_JOBS = f"""
    WITH dead AS (
        SELECT job.id,
               COALESCE(job.retry, 0)
               + CASE WHEN job.state = 'started' THEN 1 ELSE 0 END AS tries
          FROM queue_job job
          {_RECORDED_RUNNER}
         WHERE job.state IN ('enqueued', 'started')
           AND CASE
               WHEN runner.queue_job_id IS NOT NULL
                AND {sessions.alive("runner.backend_pid", "runner.backend_start")}
               THEN false
               WHEN runner.queue_job_id IS NULL
                AND GREATEST(job.date_enqueued, job.date_started)
                    >= {_NOW} - %(grace)s
               THEN false
               ELSE NOT EXISTS (SELECT 1 FROM queue_job_lock lock
                                 WHERE lock.queue_job_id = job.id)
                    OR job.id IN (SELECT lock.queue_job_id FROM queue_job_lock lock
                                   WHERE lock.queue_job_id = job.id
                                     FOR NO KEY UPDATE SKIP LOCKED)
               END
           FOR NO KEY UPDATE OF job SKIP LOCKED
    ), outcome AS (
        SELECT id, tries,
               COALESCE(max_retries, 0) > 0 AND tries >= max_retries AS fails
          FROM dead JOIN queue_job USING (id)
    )
    UPDATE queue_job job
       SET state = CASE WHEN outcome.fails THEN 'failed' ELSE 'pending' END,
           retry = outcome.tries,
           exc_name = CASE WHEN outcome.fails THEN 'JobFoundDead'
                      ELSE job.exc_name END,
           exc_message = CASE WHEN outcome.fails
               THEN 'The job was started ' || outcome.tries
                    || ' times and its worker died every time '
                    || '(killed, out of memory or past a time limit).'
               ELSE job.exc_message END,
           exc_info = CASE WHEN outcome.fails
               THEN 'Job found dead after too many retries'
               ELSE job.exc_info END,
           date_enqueued = NULL,
           date_started = NULL,
           worker_pid = NULL
      FROM outcome
     WHERE job.id = outcome.id
    RETURNING job.uuid, job.state
"""

# When the next job left by a runner that did not record its session (see
# DEAD_JOB_GRACE) may be recovered; the others are recovered as soon as
# their session is gone.
_NEXT_RECOVERY = f"""
    SELECT min(GREATEST(job.date_enqueued, job.date_started)) + %(grace)s
      FROM queue_job job
      {_RECORDED_RUNNER}
     WHERE job.state IN ('enqueued', 'started')
       AND runner.queue_job_id IS NULL
       AND GREATEST(job.date_enqueued, job.date_started) >= {_NOW} - %(grace)s
"""

# queue_job's Job.lock(), by id: the job's lock row, for this transaction,
# unless someone else holds it or the job is no longer started.
_LOCK_STARTED_JOB = """
    SELECT 1 FROM queue_job_lock
     WHERE queue_job_id = %(id)s
       AND queue_job_id IN (SELECT id FROM queue_job
                             WHERE id = %(id)s AND state = 'started')
       FOR NO KEY UPDATE SKIP LOCKED
"""

_GIVE_BACK = """
    UPDATE queue_job
       SET state = 'pending', date_enqueued = NULL, date_started = NULL,
           worker_pid = NULL
     WHERE id = %s AND state = 'started'
"""

# The jobs this session started and still holds: a pass runs its jobs one
# after the other, so at its end none of them runs.
_GIVE_BACK_UNFINISHED = """
    UPDATE queue_job job
       SET state = 'pending', date_enqueued = NULL, date_started = NULL,
           worker_pid = NULL
      FROM queue_job_sh_job_runner runner
     WHERE runner.queue_job_id = job.id
       AND runner.started_at = job.date_started
       AND job.state = 'started'
       AND runner.backend_pid = %s AND runner.backend_start = %s
    RETURNING job.uuid
"""

# A try counted; failed once the job reached max_retries tries (0: never),
# else pending again after ``delay``, the reason kept on the job.
_POSTPONE_OR_FAIL = f"""
    UPDATE queue_job
       SET retry = COALESCE(retry, 0) + 1,
           state = CASE WHEN COALESCE(max_retries, 0) > 0
                         AND COALESCE(retry, 0) + 1 >= max_retries
                        THEN 'failed' ELSE 'pending' END,
           eta = {_NOW} + %(delay)s,
           exc_name = %(exc_name)s, exc_message = %(exc_message)s,
           exc_info = %(exc_info)s,
           date_enqueued = NULL, date_started = NULL, worker_pid = NULL
     WHERE id = %(id)s AND state = 'started'
    RETURNING state
"""


def requeue_dead_jobs(cr):
    """Transaction: give back the jobs whose runner died, fail those that
    died too often; commit. Returns ``[(uuid, new state)]``.

    The death of a started job counts as a try: a job that reaches
    ``max_retries`` tries ends ``failed`` with ``JobFoundDead``, like a job
    that keeps raising ``RetryableJobError`` (``max_retries`` 0 retries
    forever). Committed at once, so that the jobs run again and their
    channels' capacity is free for every runner. Two runners recovering at
    once never requeue the same job twice: the job rows and the lock rows
    probed are locked (SKIP LOCKED) until the commit.
    """
    with transaction(cr):
        cr.execute(_REQUEUE_DEAD_JOBS, {"grace": DEAD_JOB_GRACE})
        recovered = cr.fetchall()
    return recovered


def next_recovery(cr):
    """When the next dead job of a runner that recorded no session may be
    recovered, or None. Takes no lock (a read in the caller's
    transaction)."""
    cr.execute(_NEXT_RECOVERY, {"grace": DEAD_JOB_GRACE})
    return cr.fetchone()[0]


def lock_started(cr, job_id):
    """Take the lock row of the started job ``job_id`` for the caller's
    transaction (queue_job's ``Job.lock()``); False when the job is no longer
    started or someone else holds the row."""
    cr.execute(_LOCK_STARTED_JOB, {"id": job_id})
    return cr.fetchone() is not None


def give_back(cr, job_id):
    """Put the started job ``job_id`` back to ``pending``, no try counted,
    in the caller's transaction: its runner will not run it."""
    cr.execute(_GIVE_BACK, (job_id,))


def give_back_unfinished(cr):
    """Put back to ``pending``, no try counted, in the caller's transaction,
    the jobs this session started that are still ``started``; their uuids.
    For the end of a pass: its session outlives it in Odoo's pool, and
    would keep alive a job the pass claimed and did not run (a step that
    failed between the claim and the job's lock)."""
    cr.execute(_GIVE_BACK_UNFINISHED, sessions.identity(cr))
    return [row[0] for row in cr.fetchall()]


def postpone_or_fail(cr, job_id, delay, exc_name, exc_message, exc_info):
    """Count a try of the started job ``job_id`` that could not run, in the
    caller's transaction: ``pending`` again after ``delay`` (a timedelta),
    or ``failed`` once it reached ``max_retries`` tries. The reason is kept
    on the job either way. Returns its new state."""
    cr.execute(
        _POSTPONE_OR_FAIL,
        {
            "id": job_id,
            "delay": delay,
            "exc_name": exc_name,
            "exc_message": exc_message,
            "exc_info": exc_info,
        },
    )
    row = cr.fetchone()
    return row and row[0]
