# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Many connections claiming thousands of jobs at once.

Each claimed job records when it was claimed (inside the claim transaction,
after the claim lock) and when it was done (inside the transaction that
marks it done). A slot is reused only after the job that held it committed
done, so for every channel the number of overlapping [claimed, done]
intervals must stay within its capacity: the check is independent of the
claim's own counting.
"""

import collections
import random
import threading
import time

import psycopg2
from conftest import claim

Config = claim.ChannelConfig
JOBS = 2000
WORKERS = 16
CAPACITY = {"root": 6, "root.a": 2, "root.b": 3, "root.s": 1}
CHANNELS = ["root.a", "root.b", "root.s", "root.c", "root.c.deep"]


def peak_overlap(intervals):
    events = sorted(
        [(start, 1) for start, _end in intervals] + [(end, -1) for _s, end in intervals]
    )
    peak = current = 0
    for _time, delta in events:  # an end sorts before a start at the same time
        current += delta
        peak = max(peak, current)
    return peak


def run_workers(db, channels):
    """Claim and complete every job with WORKERS connections at once."""
    claimed = collections.Counter()
    claim_order = {}
    errors = []
    barrier = threading.Barrier(WORKERS)

    def worker(seed):
        local = random.Random(seed)
        conn = db.connect()
        cursor = conn.cursor()
        barrier.wait()
        idle_since = None
        while True:
            try:
                result = claim.claim(cursor, channels, seed, limit=local.choice([1, 2]))
                ids = [job.id for job in result.jobs]
                if ids:
                    cursor.execute(
                        "UPDATE queue_job SET claimed_at = clock_timestamp() "
                        "WHERE id = ANY(%s)",
                        (ids,),
                    )
                    cursor.execute("SELECT nextval('claim_order')")
                    order = cursor.fetchone()[0]
                conn.commit()
            except psycopg2.errors.SerializationFailure:
                conn.rollback()
                continue
            except Exception as error:  # noqa: BLE001 - reported by the test
                errors.append(repr(error))
                return
            if not ids:
                cursor.execute("SELECT count(*) FROM queue_job WHERE state <> 'done'")
                if cursor.fetchone()[0] == 0:
                    conn.commit()
                    return
                conn.commit()
                idle_since = idle_since or time.time()
                if time.time() - idle_since > 30:
                    errors.append("no progress for 30 s")
                    return
                time.sleep(0.001)
                continue
            idle_since = None
            for job_id in ids:
                claimed[job_id] += 1
                claim_order[job_id] = order
            time.sleep(local.uniform(0.005, 0.02))
            cursor.execute(
                "UPDATE queue_job SET state = 'done', done_at = clock_timestamp() "
                "WHERE id = ANY(%s)",
                (ids,),
            )
            conn.commit()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return claimed, claim_order, errors


def test_hammer_claims(db, cr):
    rng = random.Random(42)
    for _n in range(JOBS):
        db.add_jobs(cr, channel=rng.choice(CHANNELS), priority=rng.choice([0, 5, 10]))
    cr.execute("CREATE SEQUENCE claim_order")
    cr.connection.commit()
    channels = claim.Channels(
        [
            Config("root.a", capacity=2),
            Config("root.b", capacity=3),
            Config("root.s", capacity=1, sequential=True),
        ],
        CAPACITY["root"],
    )
    claimed, claim_order, errors = run_workers(db, channels)

    assert not errors
    assert len(claimed) == JOBS and set(claimed.values()) == {1}

    cr.execute("SELECT id, channel, priority, claimed_at, done_at FROM queue_job")
    jobs = cr.fetchall()
    cr.connection.commit()
    peaks = {}
    for name, capacity in CAPACITY.items():
        intervals = [
            (start, end)
            for _id, channel, _p, start, end in jobs
            if channel == name or channel.startswith(name + ".")
        ]
        peaks[name] = peak_overlap(intervals)
        assert peaks[name] <= capacity, (name, peaks)
    # capacity is not only respected but used
    assert peaks == CAPACITY

    assert_priority_order(jobs, claim_order)


def assert_priority_order(jobs, claim_order):
    """Within a channel, jobs start by priority (all were ready at once)."""
    for name in CHANNELS:
        started = sorted(
            (claim_order[job_id], priority)
            for job_id, channel, priority, _s, _e in jobs
            if channel == name
        )
        by_claim = collections.defaultdict(list)
        for order, priority in started:
            by_claim[order].append(priority)
        previous_max = -1
        for order in sorted(by_claim):
            assert min(by_claim[order]) >= previous_max, name
            previous_max = max(by_claim[order])
