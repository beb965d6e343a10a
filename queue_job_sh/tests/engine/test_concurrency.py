# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Many connections claiming thousands of jobs at once.

Each claimed job records when it was claimed (by a trigger, inside the
claim transaction, after the claim lock) and when it was done (inside the
transaction that marks it done). A slot is reused only after the job that
held it committed done, so for every channel the number of overlapping
[claimed, done] intervals must stay within its capacity: the check is
independent of the claim's own counting.
"""

import collections
import random
import sys
import threading
import time

import psycopg2
from conftest import REPO, channels, claim

sys.path.insert(0, str(REPO / "dev"))
from intervals import peak_overlap  # noqa: E402

Config = channels.ChannelConfig
JOBS = 1200
WORKERS = 16
CAPACITY = {"root": 6, "root.a": 2, "root.b": 3, "root.s": 1}
CHANNELS = ["root.a", "root.b", "root.s", "root.c", "root.c.deep"]

# when and in which order each job was claimed, written in the claim's
# transaction
RECORD_CLAIMS = """
CREATE SEQUENCE claim_order;
CREATE FUNCTION record_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.claimed_at := clock_timestamp();
    NEW.claim_order := nextval('claim_order');
    RETURN NEW;
END $$;
CREATE TRIGGER record_claim BEFORE UPDATE OF state ON queue_job
   FOR EACH ROW WHEN (NEW.state = 'started') EXECUTE FUNCTION record_claim();
"""


def run_workers(db, configured):
    """Claim and complete every job with WORKERS connections at once."""
    claimed = collections.Counter()
    errors = []
    barrier = threading.Barrier(WORKERS)

    def worker(seed):
        local = random.Random(seed)
        cursor = db.cursor()
        barrier.wait()
        idle_since = None
        while True:
            try:
                job = claim.claim(cursor, configured, seed).job
            except psycopg2.errors.SerializationFailure:
                continue  # the claim rolled back
            except Exception as error:  # noqa: BLE001 - reported by the test
                errors.append(repr(error))
                return
            if not job:
                cursor.execute("SELECT count(*) FROM queue_job WHERE state <> 'done'")
                left = cursor.fetchone()[0]
                cursor.connection.commit()
                if not left:
                    return
                idle_since = idle_since or time.time()
                if time.time() - idle_since > 30:
                    errors.append("no progress for 30 s")
                    return
                time.sleep(0.001)
                continue
            idle_since = None
            claimed[job.id] += 1
            time.sleep(local.uniform(0.02, 0.05))  # long enough to fill every slot
            cursor.execute(
                "UPDATE queue_job SET state = 'done', done_at = clock_timestamp() "
                "WHERE id = %s",
                (job.id,),
            )
            cursor.connection.commit()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return claimed, errors


def test_hammer_claims(db, cr):
    rng = random.Random(42)
    for _n in range(JOBS):
        db.add_jobs(cr, channel=rng.choice(CHANNELS), priority=rng.choice([0, 5, 10]))
    cr.execute(RECORD_CLAIMS)
    cr.connection.commit()
    configured = channels.Channels(
        [
            Config("root.a", capacity=2),
            Config("root.b", capacity=3),
            Config("root.s", capacity=1, sequential=True),
        ],
        CAPACITY["root"],
    )
    claimed, errors = run_workers(db, configured)

    assert not errors
    assert len(claimed) == JOBS and set(claimed.values()) == {1}

    cr.execute(
        "SELECT id, channel, priority, claimed_at, done_at, claim_order FROM queue_job"
    )
    jobs = cr.fetchall()
    cr.connection.commit()
    peaks = {}
    for name, capacity in CAPACITY.items():
        intervals = [
            (start, end)
            for _id, channel, _p, start, end, _o in jobs
            if channel == name or channel.startswith(name + ".")
        ]
        peaks[name] = peak_overlap(intervals)
        assert peaks[name] <= capacity, (name, peaks)
    # capacity is not only respected but used
    assert peaks == CAPACITY

    assert_priority_order(jobs)


def assert_priority_order(jobs):
    """Within a channel, jobs start by priority (all were ready at once)."""
    for name in CHANNELS:
        priorities = [
            priority
            for _o, priority in sorted(
                (order, priority)
                for _id, channel, priority, _s, _e, order in jobs
                if channel == name
            )
        ]
        assert priorities == sorted(priorities), name
