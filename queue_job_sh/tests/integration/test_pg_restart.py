# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""PostgreSQL restarted (fast shutdown) in the middle of a drain:

- on a real prefork server: the jobs resume within seconds of PostgreSQL
  answering again, each runs exactly once, and the server's master and
  cron workers are the processes they were (no worker exited, nothing was
  respawned);
- in Odoo.sh mode (dev/odoosh_sim.py): the lingering pass goes on with new
  connections, the jobs resume at once, each runs exactly once, and no cron
  process is killed."""

import logging
import os
import pwd
import subprocess
import sys
import time

import psutil
from conftest import (
    LOGS,
    REPO,
    OdooServer,
    db_args,
    free_port,
    odoo_shell,
    sql,
    wait_until,
)

sys.path.insert(0, str(REPO / "dev"))
import odoosh_sim  # noqa: E402

_logger = logging.getLogger(__name__)

JOBS = 300
# seconds from PostgreSQL answering again to the first job started
RESUME_WITHIN = 5
# PostgreSQL stays down longer than the cron workers' real-time limit: a
# worker that waits for it must keep its watchdog fed, or be killed.
CRON_LIMIT = 10
DOWN_FOR = CRON_LIMIT + 2
# Odoo.sh mode: a cron process every PERIOD seconds, killed after 3 periods,
# its passes lingering 1.5 periods from its start
PERIOD = 10
ODOOSH_ENV = {
    "ODOO_STAGE": "staging",
    "ODOO_QUEUE_JOB_CHANNELS": "root:2",
    "ODOO_QUEUE_JOB_SH_PASS_SECONDS": str(1.5 * PERIOD),
}


def done_count(db):
    return sql(db, "SELECT count(*) FROM queue_job WHERE state = 'done'")[0][0]


def first_job_after(db, moment):
    """When the first job that started after ``moment`` started (an epoch),
    once there is one."""
    return wait_until(
        lambda: sql(
            db,
            "SELECT min(started_at)::float8 FROM test_queue_job_sh_probe "
            "WHERE started_at > %s",
            (moment,),
        )[0][0],
        timeout=60,
        message="a job run after the restart",
    )


def cron_workers(master):
    """The pids of a prefork server's cron workers: the master's children
    whose niceness is 10 more than its own (WorkerCron.start lowers it)."""
    return {
        child.pid for child in master.children() if child.nice() == master.nice() + 10
    }


def job_pids(db, since):
    """The pids of the processes that ran the jobs started since then."""
    rows = sql(
        db,
        "SELECT DISTINCT pid FROM test_queue_job_sh_probe WHERE started_at > %s",
        (since,),
    )
    return {pid for (pid,) in rows}


def restart_postgresql(db, down_for):
    """Stop the cluster with a fast shutdown (its sessions end at once,
    their transactions are rolled back), keep it down for ``down_for``
    seconds, start it again with the options it ran with, as its owner
    would. Returns when PostgreSQL accepts connections again."""
    data_dir, version = sql(
        db,
        "SELECT current_setting('data_directory'), "
        "current_setting('server_version_num')::int / 10000",
    )[0]
    pg_ctl = f"/usr/lib/postgresql/{version}/bin/pg_ctl"
    owner = pwd.getpwuid(os.stat(data_dir).st_uid).pw_name
    # PostgreSQL refuses to run as root: as root, run it as its owner
    as_owner = ["runuser", "-u", owner, "--"] if os.geteuid() == 0 else []
    # the new server logs where the one it replaces did (without a log
    # file, it would write to pg_ctl's output, which this test reads)
    with open(os.path.join(data_dir, "postmaster.pid")) as pid_file:
        postmaster = int(pid_file.readline())
    log = os.readlink(f"/proc/{postmaster}/fd/2")
    if not os.path.isfile(log):
        log = os.devnull
    pg_ctl = [*as_owner, pg_ctl, "-D", data_dir, "-w"]
    subprocess.run(
        [*pg_ctl, "-m", "fast", "stop"], check=True, capture_output=True, timeout=120
    )
    try:
        time.sleep(down_for)
    finally:
        # "restart" starts a stopped server with the options of its last
        # run (postmaster.opts), which "start" would not
        subprocess.run(
            [*pg_ctl, "-l", log, "restart"],
            check=True,
            capture_output=True,
            timeout=120,
        )


def test_postgresql_restart_during_a_drain(db, servers):
    odoo_shell(
        db,
        'env["test.queue.job.sh.probe"].enqueue('
        f'{JOBS}, prefix="pg", duration=0.05)\nenv.cr.commit()\n',
    )
    server = OdooServer(
        db,
        "--workers=2",
        "--max-cron-threads=2",
        f"--limit-time-real-cron={CRON_LIMIT}",
        # prefork's longpolling server: not 8072, other servers may run
        f"--gevent-port={free_port()}",
        env={"ODOO_QUEUE_JOB_CHANNELS": "root:2"},
    ).start()
    servers.append(server)
    master = psutil.Process(server.process.pid)
    wait_until(lambda: done_count(db) >= JOBS // 5, timeout=120, message="the drain")
    workers = cron_workers(master)
    assert len(workers) == 2

    restart_began = time.time()
    restart_postgresql(db, DOWN_FOR)
    answered_at = time.time()
    assert done_count(db) < JOBS, "the drain ended before the restart"

    first_started = first_job_after(db, restart_began)
    wait_until(lambda: done_count(db) == JOBS, timeout=180, message="all jobs done")

    states = dict(sql(db, "SELECT state, count(*) FROM queue_job GROUP BY state"))
    assert states == {"done": JOBS}
    runs = dict(
        sql(db, "SELECT key, count(*) FROM test_queue_job_sh_probe GROUP BY key")
    )
    assert runs == {f"pg-{n}": 1 for n in range(JOBS)}  # exactly once each
    resumed_after = first_started - answered_at
    _logger.info("first job %.2f s after PostgreSQL answered again", resumed_after)
    assert resumed_after < RESUME_WITHIN
    # neither the master nor a cron worker exited: the cron workers are
    # the ones of before, and the jobs after the restart ran in them
    assert server.process.poll() is None
    assert cron_workers(master) == workers
    assert job_pids(db, since=restart_began) <= workers


def test_postgresql_restart_during_a_lingering_pass(db):
    """Odoo.sh mode: the lingering pass of a process that runs the due
    scheduled actions once loses its connections with the restart, waits
    for PostgreSQL, goes on with new ones and runs the rest of the jobs;
    no cron process is killed by the platform."""
    odoo_shell(
        db,
        'env["test.queue.job.sh.probe"].enqueue('
        f'{JOBS}, prefix="pg", duration=0.05)\nenv.cr.commit()\n',
    )
    simulator = odoosh_sim.start(
        period=PERIOD,
        timeout=3 * PERIOD,
        db=db,
        odoo_args=db_args(db)[2:] + ["--limit-time-real-cron=0", "--limit-time-real=0"],
        log_path=str(LOGS / f"{db}-odoosh-sim.log"),
        env=dict(os.environ, **ODOOSH_ENV),
    )
    try:
        wait_until(
            lambda: done_count(db) >= JOBS // 5, timeout=120, message="the drain"
        )
        restart_began = time.time()
        restart_postgresql(db, 2)
        answered_at = time.time()
        assert done_count(db) < JOBS, "the drain ended before the restart"
        first_started = first_job_after(db, restart_began)
        wait_until(lambda: done_count(db) == JOBS, timeout=120, message="all done")
    finally:
        simulator.stop()
    _logger.info(
        "Odoo.sh mode: first job %.2f s after PostgreSQL answered again",
        first_started - answered_at,
    )
    assert first_started - answered_at < RESUME_WITHIN
    assert simulator.runs_killed == 0, "the platform had to kill a cron process"
    runs = dict(
        sql(db, "SELECT key, count(*) FROM test_queue_job_sh_probe GROUP BY key")
    )
    assert runs == {f"pg-{n}": 1 for n in range(JOBS)}
    # the pass that lost its connection went on, and recorded its end
    assert (
        sql(
            db,
            "SELECT count(*) FROM queue_job_sh_pass WHERE ended_at IS NOT NULL "
            "AND started_at < to_timestamp(%s) AT TIME ZONE 'UTC' "
            "AND done_count > 0",
            (restart_began,),
        )[0][0]
        >= 1
    )
