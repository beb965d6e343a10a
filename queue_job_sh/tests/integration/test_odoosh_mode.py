# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Odoo.sh mode under dev/odoosh_sim.py: an HTTP-only server, and a fresh
cron process started every P seconds that runs the due crons once and is
killed after T seconds (P=10, T=30; passes of 15 s)."""

import os
import random
import statistics
import sys
import time
import xmlrpc.client

from conftest import LOGS, REPO, OdooServer, db_args, odoo_shell, sql, wait_until

sys.path.insert(0, str(REPO / "dev"))
import odoosh_sim  # noqa: E402

PERIOD = 10
TIMEOUT = 30
JOBS = 16
ENV = {
    "ODOO_STAGE": "staging",
    "ODOO_QUEUE_JOB_CHANNELS": "root:2",
    "ODOO_QUEUE_JOB_SH_PASS_SECONDS": str(PERIOD * 1.5),
}


def test_jobs_start_at_once_between_platform_starts(db, servers):
    # a scheduled action due every minute, next to the runners
    odoo_shell(
        db,
        "from odoo import fields\n"
        'env["ir.cron"].create({"name": "tick", "model_id": '
        'env["ir.model"]._get_id("test.queue.job.sh.probe"), "state": "code", '
        '"code": \'model._record("tick", 0)\', "user_id": 1, '
        '"interval_number": 1, "interval_type": "minutes", '
        '"nextcall": fields.Datetime.now(), "priority": 5})\n'
        "env.cr.commit()\n",
    )
    http = OdooServer(db, "--max-cron-threads=0", env=ENV, name="http").start()
    servers.append(http)
    rpc = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{http.port}/xmlrpc/2/object")
    common = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{http.port}/xmlrpc/2/common")
    uid = wait_until(lambda: _login(common, db), timeout=60, message="HTTP server")

    simulator = odoosh_sim.start(
        period=PERIOD,
        timeout=TIMEOUT,
        db=db,
        odoo_args=db_args(db)[2:] + ["--limit-time-real-cron=0", "--limit-time-real=0"],
        log_path=str(LOGS / f"{db}-odoosh-sim.log"),
        env=dict(os.environ, **ENV),
    )
    try:
        rng = random.Random(7)
        for number in range(JOBS):
            time.sleep(rng.uniform(0, 5))
            rpc.execute_kw(
                db,
                uid,
                "admin",
                "test.queue.job.sh.probe",
                "enqueue",
                [1],
                {"prefix": f"user-{number}"},
            )
        wait_until(
            lambda: sql(db, "SELECT count(*) FROM queue_job WHERE state = 'done'")[0][0]
            == JOBS,
            timeout=3 * PERIOD,
            message="all jobs done",
        )
        # and until the scheduled action due every minute ran twice
        wait_until(
            lambda: _ticks(db)[1:],
            timeout=60 + 3 * PERIOD,
            message="two runs of the scheduled action",
        )
        killed = simulator.runs_killed
    finally:
        simulator.stop()

    assert killed == 0, "the platform had to kill a cron process"
    assert sql(db, "SELECT state, count(*) FROM queue_job GROUP BY state") == [
        ("done", JOBS)
    ]
    runs = sql(
        db,
        "SELECT probe.key, count(*), min(probe.started_at) "
        "- extract(epoch FROM min(job.date_created)) "
        "FROM test_queue_job_sh_probe probe "
        "JOIN queue_job job ON job.name = 'probe ' || probe.key "
        "WHERE probe.key LIKE 'user-%%' GROUP BY probe.key",
    )
    assert sorted(count for _key, count, _latency in runs) == [1] * JOBS
    # served by lingering passes, not at the next start of the cron process
    # (that would make the median about PERIOD / 2)
    latencies = [float(latency) for _key, _count, latency in runs]
    assert statistics.median(latencies) < PERIOD / 4, latencies
    # the scheduled action due every minute ran at the platform's pace
    ticks = _ticks(db)
    assert all(b - a < 60 + PERIOD + 5 for a, b in zip(ticks, ticks[1:], strict=False))
    assert not http.errors()


def _ticks(db):
    return [
        row[0]
        for row in sql(
            db,
            "SELECT ended_at FROM test_queue_job_sh_probe WHERE key = 'tick' "
            "ORDER BY ended_at",
        )
    ]


def _login(common, db):
    try:
        return common.login(db, "admin", "admin")
    except OSError:
        return None
