# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The claim: which job a runner may start now, and starting it (no Odoo
import).

A claim honours channel capacity, sequential channels, throttle, pause,
priority and ETA (``channels.py``), counted from the database, so it holds
across every thread and process that claims jobs. It is tested against a
real PostgreSQL server without Odoo (``tests/engine``).
"""

import dataclasses
from datetime import timedelta

from . import sessions
from .channels import complete_name, stored_names
from .schema import PENDING_ORDER
from .transactions import transaction


@dataclasses.dataclass(frozen=True)
class ClaimedJob:
    id: int
    uuid: str


@dataclasses.dataclass(frozen=True)
class Claim:
    # the job started, or None when none may start now
    job: ClaimedJob | None
    # whether another job could start right now (work for other runners)
    more: bool


# The claim lock, then the state a claim starts from, in one round trip.
#
# LOCK TABLE serializes claims across every runner thread and process:
# counting running jobs and starting one must be atomic, or two runners
# could both see a free slot and fill it. It is taken as the *first*
# statement of the transaction on purpose (transactions.transaction makes
# sure there is no earlier one): a REPEATABLE READ transaction takes its
# snapshot at its first query, and neither SET nor LOCK is one, so the
# snapshot is taken once the lock is ours and sees every claim committed
# before. The mode conflicts with itself, not with plain reads or writes of
# the jobs; the lock is held for the claim only, until its commit.
#
# The claim's commit does not wait for its WAL to reach the disk
# (synchronous_commit off, for this transaction only): it is visible to
# every other transaction at once all the same, so capacity and "started"
# hold, and the transaction that runs the job, which waits for its own
# commit to be durable, flushes the claim with it. Only a crash of
# PostgreSQL itself within a fraction of a second of a claim may lose that
# claim, and with it nothing of the job: the job is pending again, as if
# never claimed (no try counted), its run uncommitted.
_LOCK_AND_READ_STATE = """
    SET LOCAL synchronous_commit TO OFF;
    LOCK TABLE queue_job_sh_claim_state IN EXCLUSIVE MODE;
    SELECT * FROM queue_job_sh_claim_snapshot()
"""

# Both scan queue_job_sh_pending_index (channel, then PENDING_ORDER) for one
# channel; ``channel = %s`` (not IS NOT DISTINCT FROM) keeps it indexable.
_READY_JOBS_OF_CHANNEL = f"""
    SELECT id, uuid, channel, priority, COALESCE(eta, date_created), date_created
      FROM queue_job
     WHERE state = 'pending' AND {{channel}}
       AND (eta IS NULL OR eta <= %(now)s)
     ORDER BY {PENDING_ORDER}
     LIMIT %(limit)s
       FOR NO KEY UPDATE SKIP LOCKED
"""

_HEAD_JOB_OF_CHANNEL = f"""
    SELECT id, uuid, channel, priority, COALESCE(eta, date_created), date_created,
           eta IS NULL OR eta <= %(now)s
      FROM queue_job
     WHERE state = 'pending' AND {{channel}}
     ORDER BY {PENDING_ORDER}
     LIMIT 1
"""

# The job is left as queue_job's Job.set_started() leaves it (state,
# date_started, worker_pid, add_lock_record()) with set_enqueued()'s
# date_enqueued, and the session that started it is recorded (sessions.py):
# the job lives as long as that session.
_START_JOB = """
    WITH started AS (
        UPDATE queue_job
           SET state = 'started', date_enqueued = %(now)s,
               date_started = %(now)s, worker_pid = %(pid)s
         WHERE id = %(id)s
        RETURNING id
    ), lock_row AS (
        INSERT INTO queue_job_lock (id, queue_job_id)
        SELECT id, id FROM started
        ON CONFLICT (id) DO NOTHING
    )
    INSERT INTO queue_job_sh_job_runner
           (queue_job_id, backend_pid, backend_start, started_at)
    SELECT id, %(backend_pid)s, %(backend_start)s, %(now)s
      FROM started
    ON CONFLICT (queue_job_id) DO UPDATE
       SET backend_pid = EXCLUDED.backend_pid,
           backend_start = EXCLUDED.backend_start,
           started_at = EXCLUDED.started_at
"""

_RECORD_THROTTLED = """
    INSERT INTO queue_job_sh_claim_state (channel, last_claim_at)
    SELECT unnest(%s::varchar[]), %s
    ON CONFLICT (channel) DO UPDATE SET last_claim_at = EXCLUDED.last_claim_at
"""


def claim(cr, channels, pid):
    """Transaction: start the best job that may start now, for the runner
    process ``pid``, and commit. Returns a :class:`Claim`.

    Claiming and starting a job is one transaction (:data:`_START_JOB`),
    committed at once so that every runner counts the job as running, and
    the claim lock released. The caller then runs the job in a transaction
    of its own that first takes the job's lock row, as queue_job's
    ``Job.lock()`` does. Capacity counts the jobs ``enqueued`` or
    ``started`` in a channel and all its subchannels, so it holds for every
    runner, queue_job's own included.
    """
    with transaction(cr):
        cr.execute(_LOCK_AND_READ_STATE)
        now, running_by_channel, pending_channels, pending_without_channel = (
            cr.fetchone()
        )
        running = {}
        for channel, count in running_by_channel or ():
            for config in channels.chain(channel):
                running[config.name] = running.get(config.name, 0) + count
        if pending_without_channel:
            pending_channels.append(None)
        job, more, throttled = _choose(
            _candidates(cr, channels, running, pending_channels, now), running
        )
        if job:
            backend_pid, backend_start = sessions.identity(cr)
            cr.execute(
                _START_JOB,
                {
                    "now": now,
                    "pid": pid,
                    "id": job.id,
                    "backend_pid": backend_pid,
                    "backend_start": backend_start,
                },
            )
        if throttled:
            cr.execute(_RECORD_THROTTLED, (sorted(throttled), now))
    return Claim(job, more)


def _choose(candidates, running):
    """The first candidate that fits every capacity up its chain, whether
    another one would fit after it, and the throttled channels it counts
    in."""
    chosen = None
    throttled = set()
    for _key, row, chain in candidates:
        names = {config.name for config in chain}
        if throttled & names or not all(
            not config.capacity or running.get(config.name, 0) < config.capacity
            for config in chain
        ):
            continue
        if chosen:
            return chosen, True, throttled
        chosen = ClaimedJob(row[0], row[1])
        for config in chain:
            running[config.name] = running.get(config.name, 0) + 1
            if config.throttle:
                throttled.add(config.name)
    return chosen, False, throttled


def _of_channel(query, channel):
    return query.format(
        channel="channel IS NULL" if channel is None else "channel = %(channel)s"
    )


def _blocked_sequential_channels(cr, names):
    """Sequential channels that hold a failed job (queue_job blocks them)."""
    if not names:
        return set()
    cr.execute(
        "SELECT DISTINCT channel FROM queue_job "
        "WHERE state = 'failed' AND channel = ANY(%s)",
        ([stored for name in names for stored in stored_names(name)],),
    )
    return {complete_name(row[0]) for row in cr.fetchall()}


def _last_claims(cr, names):
    if not names:
        return {}
    cr.execute(
        "SELECT channel, last_claim_at FROM queue_job_sh_claim_state "
        "WHERE channel = ANY(%s)",
        (list(names),),
    )
    return dict(cr.fetchall())


def _free_slots(chain, running, wanted):
    """How many jobs of a channel may start now, up to ``wanted``."""
    slots = wanted
    for config in chain:
        if config.paused:
            return 0
        if config.capacity:
            slots = min(slots, config.capacity - running.get(config.name, 0))
    return max(slots, 0)


def _candidates(cr, channels, running, pending_channels, now):
    """Jobs that may start now, best first, as ``(sort key, row, chain)``.

    Each channel offers up to two jobs: one to start, and one to tell
    whether more are ready. A sequential channel offers only the first of
    all its pending jobs, and nothing while that one waits for its ETA or
    while the channel holds a failed job, so its jobs run strictly in order.
    """
    chains = {channel: channels.chain(channel) for channel in pending_channels}
    configs = {config.name: config for chain in chains.values() for config in chain}
    blocked = _blocked_sequential_channels(
        cr, [name for name, config in configs.items() if config.sequential]
    )
    last_claims = _last_claims(
        cr, [name for name, config in configs.items() if config.throttle]
    )

    def throttled(config):
        last = last_claims.get(config.name)
        return last and now < last + timedelta(seconds=config.throttle)

    candidates = []
    sequential_heads = {}
    for channel, chain in chains.items():
        slots = _free_slots(chain, running, 2)
        if not slots or any(c.name in blocked or throttled(c) for c in chain):
            continue
        sequential = next((c for c in chain if c.sequential), None)
        if sequential is None:
            cr.execute(
                _of_channel(_READY_JOBS_OF_CHANNEL, channel),
                {"channel": channel, "now": now, "limit": slots},
            )
            candidates += [(_sort_key(row), row, chain) for row in cr.fetchall()]
            continue
        cr.execute(
            _of_channel(_HEAD_JOB_OF_CHANNEL, channel), {"channel": channel, "now": now}
        )
        row = cr.fetchone()
        best = sequential_heads.get(sequential.name)
        if row and (best is None or _sort_key(row) < best[0]):
            sequential_heads[sequential.name] = (_sort_key(row), row, chain)
    for key, row, chain in sequential_heads.values():
        if row[6] and _lock_pending(cr, row[0]):  # the head is ready
            candidates.append((key, row, chain))
    candidates.sort(key=lambda candidate: candidate[0])
    return candidates


def _sort_key(row):
    # (priority, ready since, date_created, id), see schema.PENDING_ORDER
    return (row[3], row[4], row[5], row[0])


def _lock_pending(cr, job_id):
    """Lock a pending job row, unless someone else holds it (SKIP LOCKED):
    a job being edited is left for the next claim."""
    cr.execute(
        "SELECT id FROM queue_job WHERE id = %s AND state = 'pending' "
        "FOR NO KEY UPDATE SKIP LOCKED",
        (job_id,),
    )
    return cr.fetchone() is not None
