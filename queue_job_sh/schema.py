# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Every table, function and index this addon adds to the database beside
its Odoo models (no Odoo import).

Created by ``queue.job``'s ``init()`` at every install and update, dropped
by the uninstall hook; the engine tests create them on a bare copy of
queue_job's tables.
"""

# The order in which ready jobs start: priority (lower first), then the time
# they became ready (their ETA, or their creation when they have none), then
# age, then id. The pending index follows it, per channel.
PENDING_ORDER = "priority, COALESCE(eta, date_created), date_created, id"

_TABLES = [
    # The claim lock (claim.py), one row per throttled channel: when a job
    # of it was last claimed.
    """
    CREATE TABLE IF NOT EXISTS queue_job_sh_claim_state (
        channel varchar PRIMARY KEY,
        last_claim_at timestamp without time zone
    )""",
    # The database session that started a job (sessions.py): its runner
    # lives as long as that session. ``started_at`` is the job's
    # ``date_started`` at that start: a row that does not match the job's
    # current start (started again since, by anyone) says nothing.
    """
    CREATE TABLE IF NOT EXISTS queue_job_sh_job_runner (
        queue_job_id integer PRIMARY KEY
            REFERENCES queue_job (id) ON DELETE CASCADE,
        backend_pid integer NOT NULL,
        backend_start timestamp without time zone NOT NULL,
        started_at timestamp without time zone NOT NULL
    )""",
    # The database sessions of the requests that wait to install, upgrade
    # or uninstall modules from Apps: runners step aside while one exists
    # (module_operations.py).
    """
    CREATE TABLE IF NOT EXISTS queue_job_sh_module_operation (
        backend_pid integer NOT NULL,
        backend_start timestamp without time zone NOT NULL,
        PRIMARY KEY (backend_pid, backend_start)
    )""",
]

# The state a claim starts from: the time, the jobs running per channel, and
# the channels that have pending jobs (a loose index scan of
# queue_job_sh_pending_index: one probe per channel, however many jobs are
# pending; ordered by the whole index, so that the planner never prefers
# queue_job's index on channel, which holds the done jobs too). A PL/pgSQL
# function, because PostgreSQL keeps the plans of a function's queries for
# the session: planning this query takes longer than running it.
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
                         ORDER BY channel, {PENDING_ORDER} LIMIT 1)
                       UNION ALL
                       SELECT (SELECT channel FROM queue_job
                                WHERE state = 'pending'
                                  AND channel > pending_channel.channel
                                ORDER BY channel, {PENDING_ORDER} LIMIT 1)
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

_INDEXES = {
    # The claim's per-channel scan of pending jobs, in start order.
    "queue_job_sh_pending_index": (
        f"(channel, {PENDING_ORDER}) WHERE state = 'pending'"
    ),
    # The last hour's jobs done and started, read by range by the Runners
    # screen: without these its views scan the whole queue_job table.
    "queue_job_sh_date_done_index": "(date_done) WHERE date_done IS NOT NULL",
    "queue_job_sh_date_started_index": (
        "(date_started) WHERE date_started IS NOT NULL"
    ),
}
_CREATE_INDEXES = [
    f"CREATE INDEX IF NOT EXISTS {name} ON queue_job {definition}"
    for name, definition in _INDEXES.items()
]
_DROP = [f"DROP INDEX IF EXISTS {name}" for name in _INDEXES] + [
    "DROP FUNCTION IF EXISTS queue_job_sh_claim_snapshot()",
    "DROP TABLE IF EXISTS queue_job_sh_job_runner",
    "DROP TABLE IF EXISTS queue_job_sh_module_operation",
    "DROP TABLE IF EXISTS queue_job_sh_claim_state",
]


def create(cr):
    """Create (or keep) the tables, the function and the indexes, in the
    caller's transaction."""
    for statement in [*_TABLES, _CLAIM_SNAPSHOT_FUNCTION, *_CREATE_INDEXES]:
        cr.execute(statement)


def drop(cr):
    """Drop all of it, in the caller's transaction."""
    for statement in _DROP:
        cr.execute(statement)
