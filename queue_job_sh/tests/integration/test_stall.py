# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A live runner that stalls between its claim and its lock keeps its job.

A prefork server with two cron workers drains jobs of 50 ms; two of them
stop the process of the cron worker that claimed them (SIGSTOP, from the
probe addon: dev/addons/test_queue_job_sh/models/stall.py) right after the
claim committed and before the job's lock, for 15 s, longer than any timer
of the runner; meanwhile the other cron worker runs the rest and looks for
dead jobs again and again. Continued (SIGCONT), each stalled runner runs
its job: every job once, no try counted for a job that never died."""

import os
import signal
import time

from conftest import OdooServer, odoo_shell, sql, wait_until

JOBS = 200
STALLS = 2
STOPPED_FOR = 15


def stopped(pid):
    """Whether process ``pid`` is stopped (SIGSTOP)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "T"


def test_a_stalled_runner_keeps_its_job(db, servers):
    env = {"ODOO_QUEUE_JOB_CHANNELS": "root:2", "TEST_QUEUE_JOB_SH_STALL": "stall"}
    odoo_shell(
        db,
        'probe = env["test.queue.job.sh.probe"]\n'
        f'probe.enqueue({JOBS}, prefix="drain", duration=0.05)\n'
        f'probe.enqueue({STALLS}, prefix="stall", duration=0.05, priority=5)\n'
        "env.cr.commit()\n",
    )
    server = OdooServer(db, "--workers=2", "--max-cron-threads=2", env=env).start()
    servers.append(server)
    continued = set()
    try:
        for _stall in range(STALLS):
            # the runner recorded its stall, then stopped itself
            pid = wait_until(
                lambda: next(
                    (
                        pid
                        for (pid,) in sql(
                            db,
                            "SELECT pid FROM test_queue_job_sh_probe "
                            "WHERE key LIKE 'stalled:%%'",
                        )
                        if pid not in continued and stopped(pid)
                    ),
                    None,
                ),
                timeout=120,
                message="a runner stopped between a claim and its lock",
            )
            time.sleep(STOPPED_FOR)
            os.kill(pid, signal.SIGCONT)
            continued.add(pid)
        wait_until(
            lambda: sql(db, "SELECT count(*) FROM queue_job WHERE state = 'done'")[0][0]
            == JOBS + STALLS,
            timeout=180,
            message="all jobs done",
        )
    finally:
        for pid in continued | {
            pid for (pid,) in sql(db, "SELECT pid FROM test_queue_job_sh_probe")
        }:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                continue
    runs = dict(
        sql(
            db,
            "SELECT key, count(*) FROM test_queue_job_sh_probe "
            "WHERE key NOT LIKE 'stalled:%%' GROUP BY key",
        )
    )
    assert runs == {
        **{f"drain-{n}": 1 for n in range(JOBS)},
        **{f"stall-{n}": 1 for n in range(STALLS)},
    }
    # run once by the runner that claimed them: one try each, none lost
    assert sql(
        db,
        "SELECT name, retry FROM queue_job WHERE name LIKE 'probe stall-%%' "
        "ORDER BY name",
    ) == [(f"probe stall-{n}", 1) for n in range(STALLS)]
    assert len(continued) == STALLS
    assert not server.errors()
