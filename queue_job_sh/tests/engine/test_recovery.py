# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Recovery of jobs whose runner died, decided by the runner's database
session: real sessions, opened and closed."""

import threading
import time
from datetime import timedelta

import psycopg2
from conftest import channels, claim, queue_state, recovery

OLD = "now() AT TIME ZONE 'UTC' - interval '1 hour'"
PID = 4242
MINUTE = timedelta(minutes=1)


def claimed_by_a_runner(db, cr, count=1, **values):
    """``count`` jobs claimed by a runner of their own (a connection, as a
    pass has), and that runner's cursor."""
    ids = db.add_jobs(cr, count, **values)
    cr.connection.commit()
    runner = db.cursor()
    for _n in range(count):
        claim.claim(runner, channels.Channels([], 1000), PID)
    return ids, runner


def end_session(runner):
    """The runner's process dies: its connection closes, and PostgreSQL ends
    its session (asynchronously: waited for)."""
    pid = runner.connection.info.backend_pid
    runner.connection.close()
    watcher = psycopg2.connect()
    try:
        for _attempt in range(500):
            with watcher.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
                if not cursor.fetchone():
                    return
            watcher.rollback()
            time.sleep(0.01)
        raise AssertionError(f"session {pid} still exists")
    finally:
        watcher.close()


def rows(cr, ids):
    cr.execute(
        "SELECT state, retry, exc_name FROM queue_job WHERE id = ANY(%s) ORDER BY id",
        (ids,),
    )
    result = cr.fetchall()
    cr.rollback()
    return result


def uuid_of(cr, job_id):
    cr.execute("SELECT uuid FROM queue_job WHERE id = %s", (job_id,))
    uuid = cr.fetchone()[0]
    cr.rollback()
    return uuid


def runner_locks(runner, job_id):
    """The runner takes its job's lock row (queue_job's ``Job.lock()``, by
    id): False when someone else holds it."""
    locked = recovery.lock_started(runner, job_id)
    runner.rollback()
    return locked


def test_a_runner_that_died_loses_its_jobs_at_once(db, cr):
    """Its session is gone (kill -9 closes it): no delay, a try counted."""
    ids, runner = claimed_by_a_runner(db, cr, retry=1)
    assert recovery.requeue_dead_jobs(cr) == []  # alive, its lock not taken yet
    end_session(runner)
    assert recovery.requeue_dead_jobs(cr) == [(uuid_of(cr, ids[0]), "pending")]
    assert rows(cr, ids) == [("pending", 2, None)]


def test_a_stalled_runner_keeps_its_job_however_long(db, cr):
    """Between its claim and its lock a runner may stall for any time (a
    stopped process, a GC pause): while its session exists, its job is
    left alone and its lock row untouched, and it runs the job."""
    ids, runner = claimed_by_a_runner(db, cr)
    cr.execute(f"UPDATE queue_job SET date_enqueued = {OLD}, date_started = {OLD}")
    cr.execute(f"UPDATE queue_job_sh_job_runner SET started_at = {OLD}")
    cr.connection.commit()
    assert queue_state.moments_ahead(cr) == []  # nothing to wait for either
    assert recovery.requeue_dead_jobs(cr) == []
    assert rows(cr, ids) == [("started", 0, None)]
    assert runner_locks(runner, ids[0])


def test_a_running_job_holding_its_lock_is_left_alone(db, cr):
    ids, runner = claimed_by_a_runner(db, cr)
    assert recovery.lock_started(runner, ids[0])
    assert recovery.requeue_dead_jobs(cr) == []
    end_session(runner)  # dies while it runs the job
    assert len(recovery.requeue_dead_jobs(cr)) == 1


def test_a_record_of_an_earlier_start_says_nothing(db, cr):
    """The job was started again since (by queue_job's own runner): the
    session recorded at the earlier start does not keep it alive, queue_job's
    rule applies."""
    ids, runner = claimed_by_a_runner(db, cr)
    cr.execute(f"UPDATE queue_job SET date_enqueued = {OLD}, date_started = {OLD}")
    cr.connection.commit()
    assert [state for _uuid, state in recovery.requeue_dead_jobs(cr)] == ["pending"]
    end_session(runner)


def test_jobs_of_other_runners_follow_queue_jobs_rule(db, cr):
    """No session recorded (queue_job's own runner): dead when the lock row
    is free DEAD_JOB_GRACE after the job was enqueued; younger ones are not
    probed, their runner is about to lock them."""
    old = db.add_jobs(cr, state="started", retry=1)
    young = db.add_jobs(cr, state="started")
    cr.execute("INSERT INTO queue_job_lock SELECT id, id FROM queue_job")
    cr.execute(
        f"UPDATE queue_job SET date_enqueued = {OLD}, date_started = {OLD} "
        "WHERE id = %s",
        old,
    )
    cr.execute(
        "UPDATE queue_job SET date_enqueued = now() AT TIME ZONE 'UTC', "
        "date_started = now() AT TIME ZONE 'UTC' WHERE id = %s",
        young,
    )
    cr.connection.commit()
    holder = db.cursor()
    holder.execute("SELECT 1 FROM queue_job_lock WHERE id = %s FOR UPDATE", old)
    assert recovery.requeue_dead_jobs(cr) == []  # its runner holds the lock
    holder.rollback()
    assert recovery.requeue_dead_jobs(cr) == [(uuid_of(cr, old[0]), "pending")]
    assert rows(cr, old + young) == [("pending", 2, None), ("started", 0, None)]
    runner = db.cursor()
    assert runner_locks(runner, young[0])  # never probed
    (seconds,) = queue_state.moments_ahead(cr)
    assert 9 < seconds <= 10  # recoverable then


def test_a_job_enqueued_and_never_started_comes_back_without_a_try(db, cr):
    ids = db.add_jobs(cr, state="enqueued")
    cr.execute(f"UPDATE queue_job SET date_enqueued = {OLD}")
    cr.connection.commit()
    assert len(recovery.requeue_dead_jobs(cr)) == 1
    assert rows(cr, ids) == [("pending", 0, None)]


def test_a_job_dying_too_often_fails_as_found_dead(db, cr):
    dies = claimed_by_a_runner(db, cr, retry=4, max_retries=5)
    forever = claimed_by_a_runner(db, cr, retry=40, max_retries=0)
    for _ids, runner in (dies, forever):
        end_session(runner)
    assert sorted(state for _u, state in recovery.requeue_dead_jobs(cr)) == [
        "failed",
        "pending",
    ]
    assert rows(cr, dies[0]) == [("failed", 5, "JobFoundDead")]
    assert rows(cr, forever[0]) == [("pending", 41, None)]
    cr.execute("SELECT exc_message FROM queue_job WHERE id = %s", dies[0])
    assert "started 5 times" in cr.fetchone()[0]
    cr.rollback()


def test_concurrent_recoveries_requeue_each_job_once(db, cr):
    ids, runner = claimed_by_a_runner(db, cr, count=300)
    end_session(runner)
    barrier = threading.Barrier(8)
    errors = []

    def recover():
        cursor = db.cursor()
        barrier.wait()
        for _attempt in range(20):
            try:
                recovery.requeue_dead_jobs(cursor)
                return
            except psycopg2.errors.SerializationFailure:
                continue  # rolled back: again
        errors.append("gave up")

    threads = [threading.Thread(target=recover) for _n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert set(rows(cr, ids)) == {("pending", 1, None)}


def test_give_back_and_postpone_or_fail(db, cr):
    back, again, fails = db.add_jobs(cr, 3, state="started", max_retries=2)
    cr.execute("UPDATE queue_job SET retry = 1 WHERE id = %s", (fails,))
    cr.connection.commit()
    recovery.give_back(cr, back)
    args = ("KeyError", "cannot be loaded", "tb")
    assert recovery.postpone_or_fail(cr, again, MINUTE, *args) == "pending"
    assert recovery.postpone_or_fail(cr, fails, MINUTE, *args) == "failed"
    cr.connection.commit()
    assert rows(cr, [back, again, fails]) == [
        ("pending", 0, None),
        ("pending", 1, "KeyError"),
        ("failed", 2, "KeyError"),
    ]
    cr.execute(
        "SELECT eta > now() AT TIME ZONE 'UTC' FROM queue_job WHERE id = %s", (again,)
    )
    assert cr.fetchone() == (True,)
    cr.rollback()


def test_http_runner_detection(db, cr):
    lock_id = 2293787760715711918
    assert not queue_state.queue_job_runner_active(cr, lock_id)
    runner = db.cursor()
    runner.execute("SELECT pg_try_advisory_lock(%s)", (lock_id,))
    runner.connection.commit()
    assert queue_state.queue_job_runner_active(cr, lock_id)
    runner.execute("SELECT pg_advisory_unlock(%s)", (lock_id,))
    runner.connection.commit()
    assert not queue_state.queue_job_runner_active(cr, lock_id)
    cr.rollback()


def test_a_pass_gives_back_at_its_end_what_it_claimed_and_did_not_run(db, cr):
    """Its session outlives it in Odoo's pool: without this, a job it
    claimed and did not run (a step that failed before the job's lock)
    would stay started as long as that connection lives."""
    mine, runner = claimed_by_a_runner(db, cr)
    theirs, other = claimed_by_a_runner(db, cr)
    assert recovery.give_back_unfinished(runner) == [uuid_of(cr, mine[0])]
    runner.connection.commit()
    assert rows(cr, mine + theirs) == [("pending", 0, None), ("started", 0, None)]
    other.connection.close()
