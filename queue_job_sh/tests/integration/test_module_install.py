# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Module installs while a pass lingers in a process that runs the due
scheduled actions once, as on Odoo.sh.

- From Apps (a real request to the HTTP server): Odoo refuses module
  operations while a scheduled action runs; the pass steps aside, the
  install goes through, and the next process runs the new module's jobs.
- From another process (``odoo -i``): the pass follows Odoo's registry
  signaling, reloads the registry and runs the new module's job itself.

Either way the job of the new module runs once and is never failed for a
load error."""

import os
import subprocess
import sys

from conftest import (
    LOGS,
    REPO,
    OdooServer,
    db_args,
    login,
    odoo_shell,
    run_odoo,
    sql,
    wait_until,
)

ENV = {
    "ODOO_QUEUE_JOB_CHANNELS": "root:1",
    "ODOO_QUEUE_JOB_SH_LINGER": "1",
    "ODOO_QUEUE_JOB_SH_PASS_SECONDS": "120",
}
MODULE = "test_queue_job_sh_install"
ENQUEUE = 'env["test.queue.job.sh.installed"].enqueue("late")\nenv.cr.commit()\n'


class RunOnce:
    """A process that runs the due scheduled actions once (as Odoo.sh's
    cron worker), ended with the test."""

    def __init__(self, db):
        self.log = (LOGS / f"{db}-run-once.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(REPO / "dev" / "odoosh_sim.py"), "--once", "--"]
            + db_args(db)
            + ["--max-cron-threads=0"],
            env=dict(os.environ, **ENV),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.log.close()


def passes(db):
    return sql(db, "SELECT end_reason FROM queue_job_sh_pass ORDER BY id")


def late_job(db):
    return sql(db, "SELECT state, retry FROM queue_job WHERE name = 'installed late'")


def test_apps_install_steps_the_lingering_pass_aside(db, servers):
    http = OdooServer(db, "--max-cron-threads=0", env=ENV, name="http").start()
    servers.append(http)
    uid, rpc = login(http)
    first = RunOnce(db)
    try:
        wait_until(lambda: passes(db) == [(None,)], timeout=90, message="a pass")
        (module,) = rpc.execute_kw(
            db, uid, "admin", "ir.module.module", "search", [[("name", "=", MODULE)]]
        )
        rpc.execute_kw(
            db, uid, "admin", "ir.module.module", "button_immediate_install", [[module]]
        )
        assert sql(db, "SELECT state FROM ir_module_module WHERE name = %s", (MODULE,))
        assert passes(db)[0] == ("module_operation",)
        rpc.execute_kw(
            db, uid, "admin", "test.queue.job.sh.installed", "enqueue", ["late"]
        )
    finally:
        first.stop()
    second = RunOnce(db)  # the platform's next start
    try:
        wait_until(
            lambda: late_job(db) == [("done", 1)], timeout=90, message="job done"
        )
    finally:
        second.stop()
    assert sql(db, "SELECT key FROM test_queue_job_sh_probe") == [("late",)]
    assert not http.errors()


def test_a_lingering_pass_follows_an_install_by_another_process(db):
    cron = RunOnce(db)
    try:
        wait_until(lambda: passes(db) == [(None,)], timeout=90, message="a pass")
        run_odoo(db, "-i", MODULE)
        odoo_shell(db, ENQUEUE)
        wait_until(
            lambda: late_job(db) == [("done", 1)], timeout=60, message="job done"
        )
        # run by the pass that was lingering before the install
        assert passes(db) == [(None,)]
    finally:
        cron.stop()
    assert sql(db, "SELECT key FROM test_queue_job_sh_probe") == [("late",)]
