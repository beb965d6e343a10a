# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Claiming and recovering queue jobs in plain SQL.

This module decides *which* job a runner may start: channel capacity,
sequential channels, throttle, pause, priority and ETA. It imports nothing
from Odoo so that its correctness is tested against a real PostgreSQL server
without Odoo (``tests/engine``). It works on any DB-API cursor whose
connection runs transactions in READ COMMITTED or REPEATABLE READ (Odoo's
cursors use the latter).

Channel semantics are those of queue_job's ``ChannelManager``
(``queue_job/jobrunner/channels.py``), evaluated from the database at every
claim instead of from an in-memory copy, so they hold across every thread and
process that claims jobs.
"""

import dataclasses
from datetime import timedelta

ROOT = "root"

# A job whose runner died still shows ``enqueued`` or ``started``. It is only
# considered dead this long after it was claimed, which covers the instant
# between the commit of ``started`` and the lock taken right after it
# (queue_job's own requeuer uses the same delay).
DEAD_JOB_GRACE = timedelta(seconds=10)


@dataclasses.dataclass(frozen=True)
class ChannelConfig:
    """Configuration of one channel, with queue_job's meaning of each key.

    ``capacity`` 0 or None means unlimited (bounded by the parents);
    ``capacity_default`` and ``sequential_default`` apply to unconfigured
    direct subchannels.
    """

    name: str
    capacity: int | None = None
    sequential: bool = False
    throttle: int = 0
    paused: bool = False
    capacity_default: int | None = None
    sequential_default: bool = False


@dataclasses.dataclass
class ClaimedJob:
    id: int
    uuid: str
    channel: str


@dataclasses.dataclass
class Claim:
    jobs: list
    # True when more jobs could be started right now (work for other runners)
    more: bool


def complete_name(channel):
    """Full dotted name of a job's channel, as queue_job resolves it."""
    if not channel or channel == ROOT:
        return ROOT
    if not channel.startswith(ROOT + "."):
        return ROOT + "." + channel
    return channel


class Channels:
    """The channel tree built from a list of :class:`ChannelConfig`.

    ``root_capacity`` is the capacity of the root channel after queue_job's
    server-wide limits (``max_capacity`` / ``db_max_capacity``); 0 pauses
    everything, like queue_job does for a database set at 0.
    """

    def __init__(self, configs, root_capacity):
        self._configs = {complete_name(c.name): c for c in configs}
        root = self._configs.get(ROOT, ChannelConfig(ROOT))
        self._configs[ROOT] = dataclasses.replace(
            root,
            name=ROOT,
            capacity=root_capacity or None,
            paused=root.paused or not root_capacity,
        )
        for config in self._configs.values():
            if config.sequential and config.capacity != 1:
                raise ValueError(
                    f"Channel {config.name}: a sequential channel must have "
                    "a capacity of 1"
                )
        self._chains = {}

    @property
    def root_capacity(self):
        """Jobs that may run at once in the database (0 when paused)."""
        root = self._configs[ROOT]
        return 0 if root.paused else root.capacity

    def chain(self, job_channel):
        """The channels a job of ``job_channel`` counts in, root first.

        Unconfigured channels take their capacity and sequential mode from
        their parent's ``capacity_default`` / ``sequential_default``.
        """
        name = complete_name(job_channel)
        if name not in self._chains:
            parts = name.split(".")
            chain = [self._configs[ROOT]]
            for depth in range(2, len(parts) + 1):
                sub_name = ".".join(parts[:depth])
                config = self._configs.get(sub_name)
                if config is None:
                    parent = chain[-1]
                    config = ChannelConfig(
                        sub_name,
                        capacity=parent.capacity_default or None,
                        sequential=parent.sequential_default,
                    )
                chain.append(config)
            self._chains[name] = tuple(chain)
        return self._chains[name]


# The order in which ready jobs start: priority (lower first), then the time
# they became ready (their ETA, or their creation when they have none), then
# age, then id.
_ORDER = "priority, COALESCE(eta, date_created), date_created, id"

# The state a claim starts from: the time, the jobs running per channel, and
# the channels that have pending jobs (a loose index scan of
# queue_job_sh_pending_index: one probe per channel, however many jobs are
# pending; ordered by the whole index, so that the planner never prefers
# queue_job's index on channel, which holds the done jobs too). A PL/pgSQL
# function, because PostgreSQL keeps the plans of a function's queries for
# the session: planning this query took longer than running it.
_CLAIM_SNAPSHOT_FUNCTION = f"""
    CREATE OR REPLACE FUNCTION queue_job_sh_claim_snapshot(
        OUT snapshot_at timestamp, OUT running_by_channel json,
        OUT pending_channels varchar[], OUT pending_without_channel boolean
    ) LANGUAGE plpgsql STABLE AS $$
    BEGIN
        SELECT now() AT TIME ZONE 'UTC',
               (SELECT json_agg(json_build_array(channel, running))
                  FROM (SELECT channel, count(*) AS running FROM queue_job
                         WHERE state IN ('enqueued', 'started')
                         GROUP BY channel) running_jobs),
               ARRAY(
                   WITH RECURSIVE pending_channel AS (
                       (SELECT channel FROM queue_job
                         WHERE state = 'pending' AND channel IS NOT NULL
                         ORDER BY channel, {_ORDER} LIMIT 1)
                       UNION ALL
                       SELECT (SELECT channel FROM queue_job
                                WHERE state = 'pending'
                                  AND channel > pending_channel.channel
                                ORDER BY channel, {_ORDER} LIMIT 1)
                         FROM pending_channel
                        WHERE pending_channel.channel IS NOT NULL
                   )
                   SELECT channel FROM pending_channel WHERE channel IS NOT NULL
               ),
               EXISTS (SELECT 1 FROM queue_job
                        WHERE state = 'pending' AND channel IS NULL)
          INTO snapshot_at, running_by_channel, pending_channels,
               pending_without_channel;
    END
    $$
"""


def ensure_schema(cr):
    """Create the table claims lock, which also keeps throttle timestamps,
    and the function that reads a claim's starting state."""
    cr.execute(
        """
        CREATE TABLE IF NOT EXISTS queue_job_sh_claim_state (
            channel varchar PRIMARY KEY,
            last_claim_at timestamp without time zone
        )"""
    )
    cr.execute(_CLAIM_SNAPSHOT_FUNCTION)


# The claim lock (see _lock_claims), then the state a claim starts from, in
# one round trip. The claim's commit does not wait for its WAL to reach the
# disk (synchronous_commit off, for this transaction only): it is visible to
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

# Both scan queue_job_sh_pending_index (channel, then _ORDER) for one
# channel; ``channel = %s`` (not IS NOT DISTINCT FROM) keeps it indexable.
_READY_JOBS_OF_CHANNEL = f"""
    SELECT id, uuid, channel, priority, COALESCE(eta, date_created), date_created
      FROM queue_job
     WHERE state = 'pending' AND {{channel}}
       AND (eta IS NULL OR eta <= %(now)s)
     ORDER BY {_ORDER}
     LIMIT %(limit)s
       FOR NO KEY UPDATE SKIP LOCKED
"""

_HEAD_JOB_OF_CHANNEL = f"""
    SELECT id, uuid, channel, priority, COALESCE(eta, date_created), date_created,
           eta IS NULL OR eta <= %(now)s
      FROM queue_job
     WHERE state = 'pending' AND {{channel}}
     ORDER BY {_ORDER}
     LIMIT 1
"""


def _of_channel(query, channel):
    return query.format(
        channel="channel IS NULL" if channel is None else "channel = %(channel)s"
    )


def _lock_claims(cr):
    """Serialize claims across every runner thread and process, and read the
    state the claim starts from (:data:`_LOCK_AND_READ_STATE`).

    Counting running jobs and starting new ones must be atomic, or two
    runners could both see a free slot and fill it twice. ``LOCK TABLE`` is
    taken as the *first* statement of the transaction on purpose: a
    REPEATABLE READ transaction takes its snapshot at its first query, and
    ``LOCK`` is not one (nor is ``SET``), so the snapshot is taken once the
    lock is ours and sees every claim committed before. The statements go in
    one round trip (the lock waits, then the query runs). The lock is held for the claim
    only (three round trips) and released by the caller's commit or
    rollback. The mode conflicts with itself but not with plain reads.
    """
    cr.execute(_LOCK_AND_READ_STATE)
    return cr.fetchone()


def _blocked_sequential_channels(cr, names):
    """Sequential channels that hold a failed job (queue_job blocks them)."""
    if not names:
        return set()
    raw_names = list(names) + [name[len(ROOT) + 1 :] for name in names]
    cr.execute(
        "SELECT DISTINCT channel FROM queue_job "
        "WHERE state = 'failed' AND channel = ANY(%s)",
        (raw_names,),
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


def claim(cr, channels, pid, limit=1):
    """Start up to ``limit`` ready jobs for the runner process ``pid``.

    The jobs are left as queue_job's ``Job.set_started()`` leaves them
    (``started``, ``date_started``, ``worker_pid``, their ``queue_job_lock``
    row) with ``date_enqueued`` set, by :data:`_START_JOBS`: claiming and
    starting a job is one transaction. The caller then runs each job in a
    transaction that first takes the job's lock row (queue_job's
    ``Job.lock()``), which keeps it alive until its result is committed.

    Runs in the caller's transaction, which must be fresh (nothing executed
    since its last commit or rollback, see :func:`_lock_claims`); the caller
    commits right after, which releases the claim lock. Capacity counts the
    jobs ``enqueued`` or ``started`` in a channel and all its subchannels, so
    it holds for every runner, and for queue_job's own runner too.
    """
    now, running_by_channel, pending_channels, pending_without_channel = _lock_claims(
        cr
    )
    running = {}
    for channel, count in running_by_channel or ():
        for config in channels.chain(channel):
            running[config.name] = running.get(config.name, 0) + count
    if pending_without_channel:
        pending_channels.append(None)
    candidates = _candidates(cr, channels, running, pending_channels, limit, now)

    claimed = []
    more = False
    throttled = set()
    for _key, row, chain in candidates:
        names = {config.name for config in chain}
        if throttled & names or not all(
            not config.capacity or running.get(config.name, 0) < config.capacity
            for config in chain
        ):
            continue
        if len(claimed) == limit:
            more = True
            break
        claimed.append(ClaimedJob(row[0], row[1], complete_name(row[2])))
        for config in chain:
            running[config.name] = running.get(config.name, 0) + 1
            if config.throttle:
                throttled.add(config.name)

    if claimed:
        cr.execute(
            _START_JOBS, {"now": now, "pid": pid, "ids": [job.id for job in claimed]}
        )
    if throttled:
        cr.execute(
            """
            INSERT INTO queue_job_sh_claim_state (channel, last_claim_at)
            SELECT unnest(%s::varchar[]), %s
            ON CONFLICT (channel) DO UPDATE SET last_claim_at = EXCLUDED.last_claim_at
            """,
            (sorted(throttled), now),
        )
    return Claim(claimed, more)


# The claimed jobs, started in one statement: Job.set_started() (state,
# date_started, worker_pid, add_lock_record()) and set_enqueued()
# (date_enqueued, which DEAD_JOB_GRACE counts from).
_START_JOBS = """
    WITH started AS (
        UPDATE queue_job
           SET state = 'started', date_enqueued = %(now)s,
               date_started = %(now)s, worker_pid = %(pid)s
         WHERE id = ANY(%(ids)s)
        RETURNING id
    )
    INSERT INTO queue_job_lock (id, queue_job_id)
    SELECT id, id FROM started
    ON CONFLICT (id) DO NOTHING
"""


def _free_slots(chain, running, wanted):
    """How many jobs of a channel may start now, up to ``wanted``."""
    slots = wanted
    for config in chain:
        if config.paused:
            return 0
        if config.capacity:
            slots = min(slots, config.capacity - running.get(config.name, 0))
    return max(slots, 0)


def _candidates(cr, channels, running, pending_channels, limit, now):
    """Jobs that may start now, best first, as ``(sort key, row, chain)``.

    Each channel offers up to ``limit + 1`` jobs (one more than asked, to
    tell whether more are ready). A sequential channel offers only the first
    of all its pending jobs, and nothing while that one waits for its ETA or
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
        slots = _free_slots(chain, running, limit + 1)
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
    # (priority, ready since, date_created, id), see _ORDER
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


# A runner locks its job's lock row right after the job is committed
# ``started`` (by the claim here; by queue_job's ``_acquire_job`` in its own
# runner): ``Job.lock()`` takes the row with SKIP LOCKED and gives the job
# up if anyone else holds it. A liveness probe that took the row in between
# would make a live runner give its job up. So a lock row is probed only
# once its runner surely holds it: the job was started LOCK_SETTLE ago
# (``date_started`` written by queue_job has one-second precision: at least
# a second), or claimed DEAD_JOB_GRACE ago. After a crash, the jobs it
# interrupted are requeued LOCK_SETTLE after their start.
LOCK_SETTLE = timedelta(seconds=2)

# A job ``started`` or ``enqueued`` whose runner is gone: its lock row (held
# by the runner from the commit of ``started`` until its result is
# committed) is missing, for a job claimed but never started, or free. The
# probe runs only when ``probe_if`` holds (CASE fixes the order of
# evaluation) and locks the free rows until the caller's commit.
_RUNNER_GONE = """(
    NOT EXISTS (SELECT 1 FROM queue_job_lock lock
                 WHERE lock.queue_job_id = job.id)
    OR CASE WHEN {probe_if}
            THEN job.id IN (SELECT lock.queue_job_id FROM queue_job_lock lock
                             WHERE lock.queue_job_id = job.id
                               FOR NO KEY UPDATE SKIP LOCKED)
            ELSE false END
)"""
# The jobs whose lock row may be probed (see LOCK_SETTLE).
_SETTLED = """(
    job.date_enqueued < (now() AT TIME ZONE 'UTC') - %(grace)s
    OR (job.state = 'started'
        AND job.date_started < (now() AT TIME ZONE 'UTC') - %(settle)s)
)"""

_REQUEUE_DEAD_JOBS = f"""
    WITH dead AS (
        SELECT job.id,
               COALESCE(job.retry, 0)
               + CASE WHEN job.state = 'started' THEN 1 ELSE 0 END AS tries
          FROM queue_job job
         WHERE job.state IN ('enqueued', 'started')
           AND {_SETTLED}
           AND {_RUNNER_GONE.format(probe_if=_SETTLED)}
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

_NEXT_RECOVERY = f"""
    SELECT min(job.date_enqueued) + %(grace)s
      FROM queue_job job
     WHERE job.state = 'enqueued'
       AND NOT {_SETTLED}
       AND NOT EXISTS (SELECT 1 FROM queue_job_lock lock
                        WHERE lock.queue_job_id = job.id)
"""


def requeue_dead_jobs(cr):
    """Give back jobs whose runner died; fail those that died too often.

    A job is alive while its runner holds the row lock on its
    ``queue_job_lock`` record (queue_job's ``Job.lock()``), taken right after
    ``started`` is committed and held until its result is committed. A job
    ``started`` :data:`LOCK_SETTLE` ago, or ``enqueued`` :data:`DEAD_JOB_GRACE`
    ago, whose lock row is free (or missing, for a job enqueued but never
    started) lost its runner: the death of a started job counts as a try, and
    a job that reaches
    ``max_retries`` tries ends ``failed`` with ``JobFoundDead``, like a job
    that keeps raising ``RetryableJobError`` (``max_retries`` 0 retries
    forever). The ``FOR NO KEY UPDATE SKIP LOCKED`` probe takes the lock row
    of dead jobs for the rest of this transaction, so two runners recovering
    at once never requeue the same job twice.

    Returns ``[(uuid, new_state)]``.
    """
    cr.execute(_REQUEUE_DEAD_JOBS, {"grace": DEAD_JOB_GRACE, "settle": LOCK_SETTLE})
    return cr.fetchall()


def next_recovery(cr):
    """When the next job that lost its runner may be recovered, or None.

    Jobs ``enqueued`` less than :data:`DEAD_JOB_GRACE` ago without a lock
    row (enqueued by a runner that died before it started them): they hold
    their channel's capacity until then. A dead ``started`` job is
    recovered :data:`LOCK_SETTLE` after its start; a younger one is left to
    its runner, which is about to lock it. Takes no lock.
    """
    cr.execute(_NEXT_RECOVERY, {"grace": DEAD_JOB_GRACE, "settle": LOCK_SETTLE})
    return cr.fetchone()[0]


def fail_job(cr, job_id, exc_name, exc_message, exc_info):
    """Mark a job ``failed`` without loading it (it could not be loaded)."""
    cr.execute(
        "UPDATE queue_job SET state = 'failed', exc_name = %s, exc_message = %s, "
        "exc_info = %s, date_started = NULL, worker_pid = NULL "
        "WHERE id = %s AND state IN ('enqueued', 'started')",
        (exc_name, exc_message, exc_info, job_id),
    )
    return cr.rowcount == 1


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


def next_eta(cr):
    """When the next pending job with an ETA in the future becomes ready."""
    cr.execute(
        "SELECT min(eta) FROM queue_job "
        "WHERE state = 'pending' AND eta > (now() AT TIME ZONE 'UTC')"
    )
    return cr.fetchone()[0]


def count_ready(cr, cap=1000):
    """Number of pending jobs ready to run, counted up to ``cap``."""
    cr.execute(
        "SELECT count(*) FROM (SELECT 1 FROM queue_job WHERE state = 'pending' "
        "AND (eta IS NULL OR eta <= (now() AT TIME ZONE 'UTC')) LIMIT %s) ready",
        (cap,),
    )
    return cr.fetchone()[0]
