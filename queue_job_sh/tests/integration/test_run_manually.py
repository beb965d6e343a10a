# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Scheduled Actions > Run Manually on a runner cron, a real request to a
real server: a pass of that runner runs (18.0 runs the action in the
request, 19.0 as a cron worker would) and ends when nothing may start."""

from conftest import OdooServer, login, odoo_shell, sql


def test_run_manually_runs_a_pass_of_that_runner(db, servers):
    odoo_shell(
        db,
        'probe = env["test.queue.job.sh.probe"]\n'
        'probe.with_delay().probe("now")\n'
        'probe.with_delay(eta=3600).probe("later")\n'
        'env.cr.execute("DELETE FROM ir_cron_trigger")\n'
        "env.cr.commit()\n",
    )
    # no cron thread: only the request runs the pass
    server = OdooServer(db, "--max-cron-threads=0").start()
    servers.append(server)
    uid, models = login(server)
    (cron_id,) = models.execute_kw(
        db,
        uid,
        "admin",
        "ir.cron",
        "search",
        [[("code", "=", "model._run_pass()")]],
        {"limit": 1},
    )
    models.execute_kw(db, uid, "admin", "ir.cron", "method_direct_trigger", [[cron_id]])
    assert sql(db, "SELECT key FROM test_queue_job_sh_probe") == [("now",)]
    assert sql(db, "SELECT cron_id, done_count, end_reason FROM queue_job_sh_pass") == [
        (cron_id, 1, "queue_empty")
    ]
    # the pass wakes its own cron for the job waiting for its ETA
    assert sql(
        db,
        "SELECT count(*) FROM ir_cron_trigger trigger JOIN queue_job job "
        "ON trigger.call_at >= job.eta AND trigger.call_at < job.eta + "
        "interval '1 second' WHERE trigger.cron_id = %s AND job.eta IS NOT NULL",
        (cron_id,),
    ) == [(1,)]
    assert not server.errors()
