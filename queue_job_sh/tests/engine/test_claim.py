# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What a claim takes, on a real PostgreSQL server."""

import pytest
from conftest import channels, claim, transactions

Config = channels.ChannelConfig
Channels = channels.Channels
# the runner process a claim starts its jobs for
PID = 4242


def take(cr, configured):
    """The id of the job one claim starts, or None."""
    job = claim.claim(cr, configured, PID).job
    return job and job.id


def take_all(cr, configured):
    """The ids of the jobs successive claims start, until none may."""
    ids = []
    while job_id := take(cr, configured):
        ids.append(job_id)
    return ids


def states(cr, ids):
    cr.execute("SELECT id, state FROM queue_job WHERE id = ANY(%s)", (ids,))
    states = dict(cr.fetchall())
    cr.rollback()
    return states


def claim_time_minus(cr, minutes):
    cr.execute("SELECT now() AT TIME ZONE 'UTC' - %s * interval '1 minute'", (minutes,))
    return cr.fetchone()[0]


def test_priority_then_ready_time_then_age(db, cr):
    low = db.add_jobs(cr, priority=20)
    old = db.add_jobs(cr, priority=5)
    new = db.add_jobs(cr, priority=5)
    # ready since an ETA older than the others' creation
    early = db.add_jobs(cr, priority=5, eta=claim_time_minus(cr, minutes=5))
    later = db.add_jobs(cr, priority=5, eta=claim_time_minus(cr, minutes=-5))
    cr.connection.commit()
    assert take_all(cr, Channels([], 10)) == early + old + new + low
    assert states(cr, later) == {later[0]: "pending"}  # ETA not reached


def test_claim_starts_the_job_records_its_session_and_reports_more(db, cr):
    """What queue_job's set_started() and set_enqueued() write, and the
    session of the claim, in the claim's own transaction."""
    ids = db.add_jobs(cr, 3)
    cr.connection.commit()
    result = claim.claim(cr, Channels([], 5), PID)
    assert result.job.id == ids[0] and result.more
    cr.execute(
        "SELECT state, date_enqueued IS NOT NULL, date_started = date_enqueued, "
        "worker_pid, EXISTS (SELECT 1 FROM queue_job_lock l "
        "WHERE l.queue_job_id = job.id), runner.backend_pid = pg_backend_pid(), "
        "runner.started_at = job.date_started "
        "FROM queue_job job JOIN queue_job_sh_job_runner runner "
        "ON runner.queue_job_id = job.id WHERE job.id = %s",
        (ids[0],),
    )
    assert cr.fetchone() == ("started", True, True, PID, True, True, True)
    cr.rollback()
    assert take_all(cr, Channels([], 2)) == ids[1:2]  # root: 2
    assert not claim.claim(cr, Channels([], 3), PID).more


def test_only_the_claim_commits_without_waiting_for_the_disk(db, cr):
    db.add_jobs(cr)
    cr.connection.commit()
    cr.execute("SET synchronous_commit TO on")
    cr.connection.commit()
    claim.claim(cr, Channels([], 1), PID)
    cr.execute("SHOW synchronous_commit")  # the next transaction, a job's run
    assert cr.fetchone() == ("on",)
    cr.rollback()


def test_claim_refuses_a_transaction_in_progress(db, cr):
    """A claim counts running jobs in a snapshot taken after its lock; a
    transaction already open would give it an older one."""
    db.add_jobs(cr)
    cr.connection.commit()
    cr.execute("SELECT 1")
    with pytest.raises(transactions.TransactionInProgress):
        claim.claim(cr, Channels([], 1), PID)
    cr.rollback()
    assert take(cr, Channels([], 1))


def test_a_claim_after_a_read_never_sees_an_older_snapshot(db, cr):
    """Channel root.a, capacity 1: runner R reads its configuration (its
    snapshot is taken), runner X claims job j, R claims. R must not start k
    beside j: it refuses its stale transaction, and once that is ended its
    claim sees j running."""
    configured = Channels([Config("root.a", capacity=1)], 5)
    k = db.add_jobs(cr, channel="root.a", priority=10)
    cr.connection.commit()
    runner_r = db.cursor()
    runner_r.execute("SELECT count(*) FROM queue_job")  # e.g. channel records
    j = db.add_jobs(cr, channel="root.a", priority=1)
    cr.connection.commit()
    assert take(db.cursor(), configured) == j[0]  # runner X
    with pytest.raises(transactions.TransactionInProgress):
        claim.claim(runner_r, configured, PID)
    runner_r.rollback()
    assert take(runner_r, configured) is None
    assert states(cr, k) == {k[0]: "pending"}


def test_root_and_subchannel_capacity(db, cr):
    db.add_jobs(cr, 2, channel="root.a", state="started")
    a = db.add_jobs(cr, 2, channel="root.a")
    b = db.add_jobs(cr, 3, channel="root.b", priority=50)
    cr.connection.commit()
    configured = Channels([Config("root.a", capacity=2)], 4)
    # root.a is full: only root.b's jobs fit, and only 2 of them (root: 4)
    assert take_all(cr, configured) == b[:2]
    assert states(cr, a) == {a[0]: "pending", a[1]: "pending"}


def test_unconfigured_channel_uses_parent_capacity_default(db, cr):
    ids = db.add_jobs(cr, 3, channel="root.edi.x")
    cr.connection.commit()
    configured = Channels([Config("root.edi", capacity=5, capacity_default=1)], 5)
    assert take_all(cr, configured) == ids[:1]


def test_paused_channel_and_paused_root(db, cr):
    db.add_jobs(cr, 2, channel="root.p")
    free = db.add_jobs(cr, channel="root.q")
    cr.connection.commit()
    assert take_all(cr, Channels([Config("root.p", paused=True)], 3)) == free
    db.add_jobs(cr, channel="root.q")
    cr.connection.commit()
    assert take(cr, Channels([], 0)) is None


def test_sequential_channel_runs_in_order_and_blocks_on_failure(db, cr):
    configured = Channels([Config("root.s", capacity=1, sequential=True)], 5)
    first = db.add_jobs(cr, channel="root.s", priority=1, eta=claim_time_minus(cr, -10))
    second = db.add_jobs(cr, channel="root.s", priority=5)
    cr.connection.commit()
    # the head of the channel waits for its ETA: nothing runs, in order
    assert take(cr, configured) is None
    cr.execute("UPDATE queue_job SET eta = NULL WHERE id = %s", first)
    cr.connection.commit()
    assert take_all(cr, configured) == first  # capacity 1, first still runs
    cr.execute("UPDATE queue_job SET state = 'failed' WHERE id = %s", first)
    cr.connection.commit()
    assert take(cr, configured) is None  # a failed job blocks the channel
    cr.execute("UPDATE queue_job SET state = 'done' WHERE id = %s", first)
    cr.connection.commit()
    assert take(cr, configured) == second[0]


def test_throttle_spaces_starts(db, cr):
    ids = db.add_jobs(cr, 2, channel="root.t")
    cr.connection.commit()
    configured = Channels([Config("root.t", throttle=60)], 5)
    assert take_all(cr, configured) == ids[:1]
    cr.execute("UPDATE queue_job SET state = 'done' WHERE id = %s", ids[:1])
    cr.connection.commit()
    assert take(cr, configured) is None  # 60 s not elapsed
    cr.execute(
        "UPDATE queue_job_sh_claim_state SET last_claim_at = last_claim_at "
        "- interval '61 seconds'"
    )
    cr.connection.commit()
    assert take(cr, configured) == ids[1]


def test_null_channel_is_root(db, cr):
    ids = db.add_jobs(cr, channel=None)
    cr.connection.commit()
    assert take(cr, Channels([], 1)) == ids[0]


def test_skip_locked_pending_job(db, cr):
    locked, free = db.add_jobs(cr, 2)
    cr.connection.commit()
    other = db.cursor()
    other.execute("SELECT id FROM queue_job WHERE id = %s FOR UPDATE", (locked,))
    assert take(cr, Channels([], 5)) == free
    other.rollback()
