# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What a claim takes, on a real PostgreSQL server."""

from conftest import claim

Config = claim.ChannelConfig
# the runner process a claim starts its jobs for
PID = 4242


def take(cr, channels, limit=1):
    result = claim.claim(cr, channels, PID, limit)
    cr.connection.commit()
    return result


def states(cr, ids):
    cr.execute("SELECT id, state FROM queue_job WHERE id = ANY(%s)", (ids,))
    return dict(cr.fetchall())


def test_priority_then_ready_time_then_age(db, cr):
    low = db.add_jobs(cr, priority=20)
    old = db.add_jobs(cr, priority=5)
    new = db.add_jobs(cr, priority=5)
    # ready since an ETA older than the others' creation
    early = db.add_jobs(cr, priority=5, eta=claim_time_minus(cr, minutes=5))
    later = db.add_jobs(cr, priority=5, eta=claim_time_minus(cr, minutes=-5))
    cr.connection.commit()
    channels = claim.Channels([], 10)
    order = []
    while result := take(cr, channels).jobs:
        order.append(result[0].id)
    assert order == early + old + new + low
    assert states(cr, later) == {later[0]: "pending"}  # ETA not reached


def claim_time_minus(cr, minutes):
    cr.execute("SELECT now() AT TIME ZONE 'UTC' - %s * interval '1 minute'", (minutes,))
    return cr.fetchone()[0]


def test_claim_starts_the_jobs_with_their_lock_rows_and_reports_more(db, cr):
    """What queue_job's set_started() and set_enqueued() write, in the claim's
    own transaction."""
    ids = db.add_jobs(cr, 3)
    cr.connection.commit()
    result = take(cr, claim.Channels([], 5), limit=2)
    assert [job.id for job in result.jobs] == ids[:2]
    assert result.more
    cr.execute(
        "SELECT state, date_enqueued IS NOT NULL, date_started = date_enqueued, "
        "worker_pid, EXISTS (SELECT 1 FROM queue_job_lock l "
        "WHERE l.queue_job_id = queue_job.id) FROM queue_job WHERE id = %s",
        (ids[0],),
    )
    assert cr.fetchone() == ("started", True, True, PID, True)
    cr.execute("SELECT state FROM queue_job WHERE id = %s", (ids[2],))
    assert cr.fetchone() == ("pending",)
    result = take(cr, claim.Channels([], 5), limit=2)
    assert [job.id for job in result.jobs] == ids[2:]
    assert not result.more


def test_only_the_claim_commits_without_waiting_for_the_disk(db, cr):
    db.add_jobs(cr)
    cr.connection.commit()
    claim.claim(cr, claim.Channels([], 1), PID)
    cr.execute("SHOW synchronous_commit")
    assert cr.fetchone() == ("off",)
    cr.connection.commit()
    cr.execute("SHOW synchronous_commit")  # the next transaction, a job's run
    assert cr.fetchone() == ("on",)


def test_root_and_subchannel_capacity(db, cr):
    db.add_jobs(cr, 2, channel="root.a", state="started")
    a = db.add_jobs(cr, 2, channel="root.a")
    b = db.add_jobs(cr, 3, channel="root.b", priority=50)
    cr.connection.commit()
    channels = claim.Channels([Config("root.a", capacity=2)], 4)
    # root.a is full: only root.b's jobs fit, and only 2 of them (root: 4)
    result = take(cr, channels, limit=10)
    assert [job.id for job in result.jobs] == b[:2]
    assert not result.more
    assert states(cr, a) == {a[0]: "pending", a[1]: "pending"}
    assert take(cr, channels).jobs == []


def test_unconfigured_channel_uses_parent_capacity_default(db, cr):
    ids = db.add_jobs(cr, 3, channel="root.edi.x")
    cr.connection.commit()
    channels = claim.Channels([Config("root.edi", capacity=5, capacity_default=1)], 5)
    assert [job.id for job in take(cr, channels, limit=5).jobs] == ids[:1]


def test_paused_channel_and_paused_root(db, cr):
    db.add_jobs(cr, 2, channel="root.p")
    free = db.add_jobs(cr, channel="root.q")
    cr.connection.commit()
    channels = claim.Channels([Config("root.p", paused=True)], 3)
    assert [job.id for job in take(cr, channels, limit=5).jobs] == free
    db.add_jobs(cr, channel="root.q")
    cr.connection.commit()
    assert take(cr, claim.Channels([], 0), limit=5).jobs == []


def test_sequential_channel_runs_in_order_and_blocks_on_failure(db, cr):
    channels = claim.Channels([Config("root.s", capacity=1, sequential=True)], 5)
    first = db.add_jobs(cr, channel="root.s", priority=1, eta=claim_time_minus(cr, -10))
    second = db.add_jobs(cr, channel="root.s", priority=5)
    cr.connection.commit()
    # the head of the channel waits for its ETA: nothing runs, in order
    assert take(cr, channels).jobs == []
    cr.execute("UPDATE queue_job SET eta = NULL WHERE id = %s", first)
    cr.connection.commit()
    assert [job.id for job in take(cr, channels, limit=3).jobs] == first
    assert take(cr, channels).jobs == []  # capacity 1, first still runs
    cr.execute("UPDATE queue_job SET state = 'failed' WHERE id = %s", first)
    cr.connection.commit()
    assert take(cr, channels).jobs == []  # a failed job blocks the channel
    cr.execute("UPDATE queue_job SET state = 'done' WHERE id = %s", first)
    cr.connection.commit()
    assert [job.id for job in take(cr, channels).jobs] == second


def test_throttle_spaces_starts(db, cr):
    ids = db.add_jobs(cr, 2, channel="root.t")
    cr.connection.commit()
    channels = claim.Channels([Config("root.t", throttle=60)], 5)
    assert [job.id for job in take(cr, channels, limit=5).jobs] == ids[:1]
    cr.execute("UPDATE queue_job SET state = 'done' WHERE id = %s", ids[:1])
    cr.connection.commit()
    assert take(cr, channels).jobs == []  # 60 s not elapsed
    cr.execute(
        "UPDATE queue_job_sh_claim_state SET last_claim_at = last_claim_at "
        "- interval '61 seconds'"
    )
    cr.connection.commit()
    assert [job.id for job in take(cr, channels).jobs] == ids[1:]


def test_null_channel_is_root(db, cr):
    ids = db.add_jobs(cr, channel=None)
    cr.connection.commit()
    assert [job.id for job in take(cr, claim.Channels([], 1)).jobs] == ids


def test_skip_locked_pending_job(db, cr):
    locked, free = db.add_jobs(cr, 2)
    cr.connection.commit()
    other = db.connect().cursor()
    other.execute("SELECT id FROM queue_job WHERE id = %s FOR UPDATE", (locked,))
    assert [job.id for job in take(cr, claim.Channels([], 5)).jobs] == [free]
    other.connection.rollback()
