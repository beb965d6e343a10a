# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A job that always outlives the cron time limit: Odoo's watchdog kills its
cron worker each time, the job ends failed after its retries, and the other
jobs keep flowing meanwhile (prefork, --limit-time-real-cron=10)."""

import threading
import time
import xmlrpc.client

from conftest import OdooServer, odoo_shell, sql, wait_until

NORMAL_JOBS = 24


def test_poison_job_fails_after_its_retries_and_the_queue_flows(db, servers):
    env = {"ODOO_QUEUE_JOB_CHANNELS": "root:2"}
    server = OdooServer(
        db, "--workers=1", "--max-cron-threads=2", "--limit-time-real-cron=10", env=env
    ).start()
    servers.append(server)
    common = xmlrpc.client.ServerProxy(
        f"http://127.0.0.1:{server.port}/xmlrpc/2/common"
    )
    wait_until(lambda: _login(common, db), timeout=60, message="HTTP server")
    odoo_shell(
        db,
        'env["test.queue.job.sh.probe"]'
        '.with_delay(priority=1, max_retries=2, description="poison")'
        '.probe("poison", duration=120)\nenv.cr.commit()\n',
    )

    def users():  # a normal job every 1.5 s, from the HTTP worker
        rpc = xmlrpc.client.ServerProxy(
            f"http://127.0.0.1:{server.port}/xmlrpc/2/object"
        )
        for number in range(NORMAL_JOBS):
            rpc.execute_kw(
                db,
                2,
                "admin",
                "test.queue.job.sh.probe",
                "enqueue",
                [1],
                {"prefix": f"normal-{number}"},
            )
            time.sleep(1.5)

    traffic = threading.Thread(target=users)
    traffic.start()
    wait_until(
        lambda: sql(db, "SELECT state FROM queue_job WHERE name = 'poison'")
        == [("failed",)],
        timeout=150,
        message="the poison job failed",
    )
    traffic.join()
    wait_until(
        lambda: sql(
            db, "SELECT count(*) FROM queue_job WHERE state NOT IN ('done', 'failed')"
        )
        == [(0,)],
        timeout=60,
        message="the normal jobs done",
    )
    assert sql(db, "SELECT retry, exc_name FROM queue_job WHERE name = 'poison'") == [
        (2, "JobFoundDead")
    ]
    runs = sql(db, "SELECT key, count(*) FROM test_queue_job_sh_probe GROUP BY key")
    assert sorted(runs) == sorted((f"normal-{n}-0", 1) for n in range(NORMAL_JOBS))
    # Odoo's watchdog killed the cron workers that ran it...
    assert (
        len(
            [
                line
                for line in server.log.read_text().splitlines()
                if "WorkerCron" in line and "timeout" in line
            ]
        )
        >= 2
    )
    # ...and never counted the runner crons as failed
    assert sql(
        db,
        "SELECT bool_and(active), max(failure_count) FROM ir_cron "
        "WHERE cron_name LIKE 'Job Queue: runner%%'",
    ) == [(True, 0)]


def _login(common, db):
    try:
        return common.login(db, "admin", "admin")
    except OSError:
        return None
