# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""How a pass ends in Odoo's cron loop, on a real threaded server with one
cron thread: idle, it waits a moment for the next job (IDLE_WAIT); busy, it
goes on in a new pass every few seconds (HOUSEKEEPING_INTERVAL)."""

import time

from conftest import OdooServer, odoo_shell, sql, wait_until

ENV = {"ODOO_QUEUE_JOB_CHANNELS": "root:1"}


def enqueue(db, count, prefix, duration=0.0):
    odoo_shell(
        db,
        f'env["test.queue.job.sh.probe"].enqueue({count}, prefix="{prefix}", '
        f"duration={duration})\nenv.cr.commit()\n",
        env=ENV,
    )


def done(db):
    return sql(db, "SELECT count(*) FROM queue_job WHERE state = 'done'")[0][0]


def passes(db):
    return sql(
        db,
        "SELECT done_count, end_reason, ended_at IS NOT NULL FROM queue_job_sh_pass "
        "WHERE done_count > 0 ORDER BY id",
    )


def start_server(db, servers):
    server = OdooServer(db, "--workers=0", "--max-cron-threads=1", env=ENV)
    servers.append(server.start())
    return server


def test_idle_pass_takes_the_next_job(db, servers):
    server = start_server(db, servers)
    # one shell enqueues a job, waits until it is done, then enqueues
    # another half a second later: the pass that ran the first waits
    # IDLE_WAIT (2 s) for another job, so the second is its own, no new pass
    odoo_shell(
        db,
        """
import time
probe = env["test.queue.job.sh.probe"]
probe.enqueue(1, prefix="first")
env.cr.commit()
for _attempt in range(600):
    env.cr.execute("SELECT count(*) FROM queue_job WHERE state = 'done'")
    if env.cr.fetchone()[0]:
        break
    env.cr.rollback()
    time.sleep(0.1)
time.sleep(0.5)
probe.enqueue(1, prefix="second")
env.cr.commit()
""",
        env=ENV,
    )
    wait_until(lambda: done(db) == 2, timeout=60, message="second job done")
    time.sleep(3)  # the pass waits IDLE_WAIT, then ends
    assert passes(db) == [(2, "queue_empty", True)]
    keys = sql(db, "SELECT key FROM test_queue_job_sh_probe ORDER BY id")
    assert keys == [("first-0",), ("second-0",)]
    assert not server.errors()


def test_busy_pass_goes_on_in_a_new_pass(db, servers):
    server = start_server(db, servers)
    enqueue(db, 16, "busy", duration=0.5)
    wait_until(lambda: done(db) == 16, timeout=120, message="all jobs done")
    time.sleep(3)  # the last pass waits IDLE_WAIT, then ends
    ran = passes(db)
    # the first pass ended after about 5 s of jobs and triggered its cron,
    # which the cron thread took again at once; every job ran once
    assert ran[0][1] == "yielded" and 0 < ran[0][0] < 16, ran
    assert sum(count for count, _r, _e in ran) == 16
    keys = sql(db, "SELECT key FROM test_queue_job_sh_probe")
    assert sorted(keys) == sorted((f"busy-{n}",) for n in range(16))
    assert not server.errors()
