# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A job that always outlives the cron time limit: Odoo's watchdog kills its
cron worker each time, the job ends failed after its retries, and the other
jobs keep flowing meanwhile (prefork, --limit-time-real-cron=10)."""

from conftest import OdooServer, odoo_shell, sql, wait_until

NORMAL_JOBS = 20


def test_poison_job_fails_after_its_retries_and_the_queue_flows(db, servers):
    env = {"ODOO_QUEUE_JOB_CHANNELS": "root:2"}
    odoo_shell(
        db,
        'probe = env["test.queue.job.sh.probe"]\n'
        'probe.with_delay(priority=1, max_retries=2, description="poison")'
        '.probe("poison", duration=120)\n'
        f'probe.enqueue({NORMAL_JOBS}, prefix="normal", duration=0.5)\n'
        "env.cr.commit()\n",
    )
    # No traffic after that: recovering the poison job after each kill is the
    # runners' own business, with cron workers whose limit (10 s) is shorter
    # than Odoo's usual sleep between two looks for due crons.
    server = OdooServer(
        db, "--workers=1", "--max-cron-threads=2", "--limit-time-real-cron=10", env=env
    ).start()
    servers.append(server)
    wait_until(
        lambda: sql(db, "SELECT state FROM queue_job WHERE name = 'poison'")
        == [("failed",)],
        timeout=150,
        message="the poison job failed",
    )
    assert sql(db, "SELECT retry, exc_name FROM queue_job WHERE name = 'poison'") == [
        (2, "JobFoundDead")
    ]
    assert sql(
        db,
        "SELECT state, count(*) FROM queue_job WHERE name <> 'poison' GROUP BY state",
    ) == [("done", NORMAL_JOBS)]
    runs = sql(db, "SELECT key, count(*) FROM test_queue_job_sh_probe GROUP BY key")
    assert sorted(runs) == sorted((f"normal-{n}", 1) for n in range(NORMAL_JOBS))
    # Odoo's watchdog killed the cron workers that ran it...
    log = server.log.read_text().splitlines()
    assert (
        len([line for line in log if "WorkerCron" in line and "timeout" in line]) >= 2
    )
    # ...and never counted the runner crons as failed
    assert sql(
        db,
        "SELECT bool_and(active), max(failure_count) FROM ir_cron "
        "WHERE cron_name LIKE 'Job Queue: runner%%'",
    ) == [(True, 0)]
