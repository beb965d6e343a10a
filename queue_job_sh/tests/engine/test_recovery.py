# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Recovery of jobs whose runner died."""

import threading

import psycopg2
from conftest import claim

OLD = "now() AT TIME ZONE 'UTC' - interval '1 minute'"


def dead(db, cr, count=1, state="started", lock=True, retry=0, max_retries=5):
    ids = db.add_jobs(cr, count, state=state, retry=retry, max_retries=max_retries)
    cr.execute(f"UPDATE queue_job SET date_enqueued = {OLD} WHERE id = ANY(%s)", (ids,))
    if lock:
        cr.execute(
            "INSERT INTO queue_job_lock "
            "SELECT id, id FROM queue_job WHERE id = ANY(%s)",
            (ids,),
        )
    cr.connection.commit()
    return ids


def rows(cr, ids):
    cr.execute(
        "SELECT state, retry, exc_name FROM queue_job WHERE id = ANY(%s) ORDER BY id",
        (ids,),
    )
    return cr.fetchall()


def test_dead_started_job_is_requeued_with_a_try_counted(db, cr):
    ids = dead(db, cr, retry=1)
    assert claim.requeue_dead_jobs(cr) == [(claimed_uuid(cr, ids[0]), "pending")]
    cr.connection.commit()
    assert rows(cr, ids) == [("pending", 2, None)]


def claimed_uuid(cr, job_id):
    cr.execute("SELECT uuid FROM queue_job WHERE id = %s", (job_id,))
    return cr.fetchone()[0]


def test_running_job_holding_its_lock_is_left_alone(db, cr):
    ids = dead(db, cr)
    runner = db.connect().cursor()
    runner.execute(
        "SELECT * FROM queue_job_lock WHERE queue_job_id = %s FOR NO KEY UPDATE", ids
    )
    assert claim.requeue_dead_jobs(cr) == []
    cr.connection.commit()
    runner.connection.rollback()  # the runner dies: its lock goes
    assert len(claim.requeue_dead_jobs(cr)) == 1


def test_claimed_never_started_job_is_requeued_without_a_try(db, cr):
    ids = dead(db, cr, state="enqueued", lock=False)
    young = db.add_jobs(cr, state="enqueued")
    cr.execute(
        "UPDATE queue_job SET date_enqueued = now() AT TIME ZONE 'UTC' WHERE id = %s",
        young,
    )
    cr.connection.commit()
    claim.requeue_dead_jobs(cr)
    cr.connection.commit()
    assert rows(cr, ids) == [("pending", 0, None)]
    assert rows(cr, young) == [("enqueued", 0, None)]  # within the grace delay


def test_job_dying_too_often_fails_as_found_dead(db, cr):
    ids = dead(db, cr, retry=4, max_retries=5)
    forever = dead(db, cr, retry=40, max_retries=0)
    result = dict(claim.requeue_dead_jobs(cr))
    cr.connection.commit()
    assert sorted(result.values()) == ["failed", "pending"]
    assert rows(cr, ids) == [("failed", 5, "JobFoundDead")]
    assert rows(cr, forever) == [("pending", 41, None)]
    cr.execute("SELECT exc_message FROM queue_job WHERE id = %s", ids)
    assert "started 5 times" in cr.fetchone()[0]


def test_concurrent_recoveries_requeue_each_job_once(db, cr):
    ids = dead(db, cr, count=300)
    barrier = threading.Barrier(8)
    errors = []

    def recover():
        conn = db.connect()
        barrier.wait()
        for _attempt in range(20):
            try:
                with conn.cursor() as cursor:
                    claim.requeue_dead_jobs(cursor)
                conn.commit()
                return
            except psycopg2.errors.SerializationFailure:
                conn.rollback()
        errors.append("gave up")

    threads = [threading.Thread(target=recover) for _n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert set(rows(cr, ids)) == {("pending", 1, None)}


def test_fail_job_only_touches_claimed_jobs(db, cr):
    claimed, done = db.add_jobs(cr, state="enqueued") + db.add_jobs(cr, state="done")
    cr.connection.commit()
    assert claim.fail_job(cr, claimed, "KeyError", "no model", "tb")
    assert not claim.fail_job(cr, done, "KeyError", "no model", "tb")
    assert rows(cr, [claimed, done]) == [("failed", 0, "KeyError"), ("done", 0, None)]


def test_http_runner_detection(db, cr):
    lock_id = 2293787760715711918
    assert not claim.queue_job_runner_active(cr, lock_id)
    runner = db.connect().cursor()
    runner.execute("SELECT pg_try_advisory_lock(%s)", (lock_id,))
    runner.connection.commit()
    assert claim.queue_job_runner_active(cr, lock_id)
    runner.execute("SELECT pg_advisory_unlock(%s)", (lock_id,))
    runner.connection.commit()
    assert not claim.queue_job_runner_active(cr, lock_id)


def test_next_recovery_is_when_a_young_dead_job_may_be_requeued(db, cr):
    assert claim.next_recovery(cr) is None
    ids = db.add_jobs(cr, state="enqueued")  # its runner died before starting it
    cr.execute(
        "UPDATE queue_job SET date_enqueued = now() AT TIME ZONE 'UTC' "
        "- interval '4 seconds' WHERE id = %s",
        ids,
    )
    cr.connection.commit()
    cr.execute("SELECT date_enqueued + interval '10 seconds' FROM queue_job")
    expected = cr.fetchone()[0]
    assert claim.next_recovery(cr) == expected
    assert claim.requeue_dead_jobs(cr) == []  # not before the grace delay
    cr.connection.commit()
    # once started, with its lock row, it is no longer waited for
    cr.execute("UPDATE queue_job SET state = 'started'")
    cr.execute("INSERT INTO queue_job_lock SELECT id, id FROM queue_job")
    cr.connection.commit()
    assert claim.next_recovery(cr) is None


def test_dead_started_job_is_requeued_once_settled_not_after_the_grace(db, cr):
    """After a kill -9 the interrupted jobs come back LOCK_SETTLE after their
    start, not DEAD_JOB_GRACE after their claim: a restarted server runs
    them at once."""
    ids = just_started(db, cr)
    assert claim.requeue_dead_jobs(cr) == []  # maybe its runner, about to lock
    cr.connection.commit()
    cr.execute(
        "UPDATE queue_job SET date_started = date_started - interval '3 seconds'"
    )
    cr.connection.commit()
    assert claim.requeue_dead_jobs(cr) == [(claimed_uuid(cr, ids[0]), "pending")]
    cr.connection.commit()
    assert rows(cr, ids) == [("pending", 1, None)]


def just_started(db, cr):
    """A job its runner has just committed ``started``: its lock row exists,
    and the runner is about to lock it (queue_job's ``Job.lock()``)."""
    ids = db.add_jobs(cr, state="started")
    cr.execute(
        "UPDATE queue_job SET date_enqueued = now() AT TIME ZONE 'UTC', "
        "date_started = now() AT TIME ZONE 'UTC' WHERE id = %s",
        ids,
    )
    cr.execute("INSERT INTO queue_job_lock SELECT id, id FROM queue_job")
    cr.connection.commit()
    return ids


def runner_locks(db, job_id):
    """queue_job's ``Job.lock()``: SKIP LOCKED, the job is given up if
    someone else holds the row."""
    runner = db.connect().cursor()
    runner.execute(
        "SELECT * FROM queue_job_lock WHERE queue_job_id = %s "
        "FOR NO KEY UPDATE SKIP LOCKED",
        (job_id,),
    )
    locked = bool(runner.fetchall())
    runner.connection.rollback()
    return locked


def test_looking_for_recoveries_never_takes_a_just_started_jobs_lock(db, cr):
    """An idle runner looking for recoveries while another runner is between
    the commit of ``started`` and its lock must not make it give the job
    up (seen as a 10 s start delay and a try counted on Odoo.sh)."""
    ids = just_started(db, cr)
    assert claim.next_recovery(cr) is None  # its transaction stays open
    assert runner_locks(db, ids[0])
    cr.connection.rollback()
    assert claim.requeue_dead_jobs(cr) == []
    assert runner_locks(db, ids[0])
    cr.connection.rollback()
    # once settled, a job whose lock is free is dead
    cr.execute(
        "UPDATE queue_job SET date_started = date_started - interval '3 seconds'"
    )
    cr.connection.commit()
    assert len(claim.requeue_dead_jobs(cr)) == 1
