# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Odoo.sh mode under dev/odoosh_sim.py, over 10 platform periods: an
HTTP-only server, and a fresh cron process started every P seconds that runs
the due crons once and is killed after T = 3 P seconds (passes of 1.5 P),
with no time limit of Odoo's own and with Odoo's default one (120 s): the
passes of a process share one budget from its start either way."""

import os
import random
import statistics
import sys
import time

import pytest
from conftest import (
    LOGS,
    REPO,
    OdooServer,
    db_args,
    login,
    odoo_shell,
    sql,
    wait_until,
)

sys.path.insert(0, str(REPO / "dev"))
import odoosh_sim  # noqa: E402

PERIOD = 10
TIMEOUT = 3 * PERIOD
PASS_SECONDS = 1.5 * PERIOD
PERIODS = 10
ENV = {
    "ODOO_STAGE": "staging",
    "ODOO_QUEUE_JOB_CHANNELS": "root:2",
    "ODOO_QUEUE_JOB_SH_PASS_SECONDS": str(PASS_SECONDS),
}
# how long after its deadline a pass is recorded as ended (seconds)
PASS_END = 1


@pytest.mark.parametrize("limit_time_real", [0, 120])
def test_jobs_start_at_once_between_platform_starts(db, servers, limit_time_real):
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
    uid, rpc = login(http)

    simulator = odoosh_sim.start(
        period=PERIOD,
        timeout=TIMEOUT,
        db=db,
        odoo_args=db_args(db)[2:]
        + ["--limit-time-real-cron=0", f"--limit-time-real={limit_time_real}"],
        log_path=str(LOGS / f"{db}-odoosh-sim.log"),
        env=dict(os.environ, **ENV),
    )
    jobs = 0
    try:
        rng = random.Random(7)
        ends_at = time.time() + PERIODS * PERIOD
        while time.time() < ends_at:
            time.sleep(rng.uniform(0, 5))
            rpc.execute_kw(
                db,
                uid,
                "admin",
                "test.queue.job.sh.probe",
                "enqueue",
                [1],
                {"prefix": f"user-{jobs}"},
            )
            jobs += 1
        wait_until(
            lambda: sql(db, "SELECT count(*) FROM queue_job WHERE state = 'done'")[0][0]
            == jobs,
            timeout=3 * PERIOD,
            message="all jobs done",
        )
    finally:
        simulator.stop()

    assert simulator.runs_killed == 0, "the platform had to kill a cron process"
    # every pass of a process ended by 1.5 periods after the start of that
    # process, whatever the limit: one budget for all its passes
    started = {pid: start for start, _end, _killed, pid in simulator.run_log}
    late = [
        (pid, ended_at - started[pid])
        for pid, ended_at in sql(
            db,
            "SELECT pid, extract(epoch FROM ended_at)::float8 FROM queue_job_sh_pass "
            "WHERE ended_at IS NOT NULL",
        )
        if ended_at - started[pid] > PASS_SECONDS + PASS_END
    ]
    assert not late, late
    assert sql(db, "SELECT state, count(*) FROM queue_job GROUP BY state") == [
        ("done", jobs)
    ]
    runs = sql(
        db,
        "SELECT probe.key, count(*), min(probe.started_at) "
        "- extract(epoch FROM min(job.date_created)) "
        "FROM test_queue_job_sh_probe probe "
        "JOIN queue_job job ON job.name = 'probe ' || probe.key "
        "WHERE probe.key LIKE 'user-%%' GROUP BY probe.key",
    )
    assert sorted(count for _key, count, _latency in runs) == [1] * jobs
    # served by lingering passes, not at the next start of the cron process
    # (that would make the median about PERIOD / 2)
    latencies = [float(latency) for _key, _count, latency in runs]
    assert statistics.median(latencies) <= 1, latencies
    # the scheduled action due every minute ran at the platform's pace
    ticks = _ticks(db)
    assert len(ticks) >= 2
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
