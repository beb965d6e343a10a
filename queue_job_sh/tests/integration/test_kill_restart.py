# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""kill -9 a real server while it runs long jobs, restart it: every job runs
to completion exactly once and nothing is left behind."""

import time

import pytest
from conftest import OdooServer, odoo_shell, sql, wait_until

JOBS = 10
MODES = {
    "threaded": ["--max-cron-threads=2"],
    "prefork": ["--workers=2", "--max-cron-threads=2"],
}


def states(db):
    return dict(sql(db, "SELECT state, count(*) FROM queue_job GROUP BY state"))


@pytest.mark.parametrize("mode", sorted(MODES))
def test_kill_during_long_jobs_then_restart(db, servers, mode):
    env = {"ODOO_QUEUE_JOB_CHANNELS": "root:2"}
    odoo_shell(
        db,
        'env["test.queue.job.sh.probe"].enqueue('
        f'{JOBS}, prefix="long", duration=3.0)\nenv.cr.commit()\n',
    )
    server = OdooServer(db, *MODES[mode], env=env).start()
    servers.append(server)
    # kill once two jobs are done and two others are running
    wait_until(
        lambda: states(db).get("done", 0) >= 2 and states(db).get("started", 0) == 2,
        timeout=90,
        message="jobs running",
    )
    killed = [
        row[0] for row in sql(db, "SELECT uuid FROM queue_job WHERE state = 'started'")
    ]
    server.kill()
    killed_at = time.time()
    assert states(db).get("started") == 2  # the dead worker left them started

    restarted = OdooServer(db, *MODES[mode], env=env, name="restart").start()
    servers.append(restarted)
    wait_until(
        lambda: states(db) == {"done": JOBS}, timeout=120, message="all jobs done"
    )

    runs = dict(
        sql(db, "SELECT key, count(*) FROM test_queue_job_sh_probe GROUP BY key")
    )
    assert runs == {f"long-{n}": 1 for n in range(JOBS)}  # exactly once each
    # the killed jobs were recovered with their try counted
    retries = dict(
        sql(db, "SELECT uuid, retry FROM queue_job WHERE uuid = ANY(%s)", (killed,))
    )
    assert retries == dict.fromkeys(killed, 2)
    # processing resumed without waiting for Odoo's 60 s cron poll (the dead
    # jobs can be taken 10 s after they were claimed)
    restarted_at = sql(
        db,
        "SELECT extract(epoch FROM min(date_started) AT TIME ZONE 'UTC') "
        "FROM queue_job WHERE uuid = ANY(%s)",
        (killed,),
    )[0][0]
    assert float(restarted_at) - killed_at < 45
    assert not restarted.errors()
