# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The benchmark's "other process": enqueues jobs with ``with_delay()``.

Started by the harness with Odoo's command line options (``-d``, database
and addons path); reads one JSON command per line on stdin and answers one
JSON line on stdout. It loads the database's registry once, so each command
costs only its own transaction.

Commands:

``{"op": "setup", "runner": ..., "capacity": n, "probe_cron": bool}``
    Prepare a fresh database for a runner: queue_job_cron_jobrunner gets one
    cron record per cron thread (its own record copied), queue_job_sh gets
    its runner crons synced to the root capacity. ``probe_cron`` adds a
    cron running every minute that writes a probe row (key ``cron-tick``).
``{"op": "enqueue", "jobs": [{"key", "method", "kwargs", "channel",
"priority", "max_retries"}, ...]}``
    Create the jobs in one transaction; answers the epochs of the commit
    (``t``), of the command's start (``began``) and end (``end``, after the
    post-commit callbacks).
``{"op": "quit"}``
"""

import json
import pathlib
import sys
import time
from datetime import timedelta

from odoo import api, fields
from odoo.modules.registry import Registry

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "dev"))
import odoo_config  # noqa: E402


def setup(env, runner, capacity, probe_cron):
    runners = env["ir.cron"]
    if runner == "cron_jobrunner":
        cron = env.ref("queue_job_cron_jobrunner.queue_job_cron")
        runners = env["ir.cron"].search([("queue_job_runner", "=", True)])
        for _number in range(len(runners), capacity):
            runners |= cron.copy()
    elif runner == "queue_job_sh":
        env["queue.job.sh.runner"]._sync_runner_crons()
        runners = env["queue.job.sh.runner"]._runner_crons()
    # In a database copied from the template every standard cron is due at
    # once: the first minute of a server would go to them, not to the jobs.
    others = env["ir.cron"].with_context(active_test=False).search([]) - runners
    others.write({"nextcall": fields.Datetime.now() + timedelta(days=1)})
    if probe_cron:
        env["ir.cron"].create(
            {
                "name": "Benchmark probe cron",
                "model_id": env["ir.model"]._get_id("test.queue.job.sh.probe"),
                "state": "code",
                "code": "model.probe('cron-tick')",
                "interval_number": 1,
                "interval_type": "minutes",
                "nextcall": fields.Datetime.now(),
            }
        )


def enqueue(env, jobs):
    probe = env["test.queue.job.sh.probe"]
    for job in jobs:
        delayable = probe.with_delay(
            channel=job.get("channel"),
            priority=job.get("priority"),
            max_retries=job.get("max_retries"),
            description=f"probe {job['key']}",
        )
        getattr(delayable, job.get("method", "probe"))(
            job["key"], **job.get("kwargs", {})
        )


def handle(registry, command):
    began_at = time.time()
    marks = {}

    def mark_commit():
        marks["t"] = time.time()

    with registry.cursor() as cr:
        env = api.Environment(cr, api.SUPERUSER_ID, {})
        if command["op"] == "setup":
            setup(
                env, command["runner"], command["capacity"], command.get("probe_cron")
            )
        elif command["op"] == "enqueue":
            enqueue(env, command["jobs"])
        env.flush_all()
        # The commit's time is taken right before the database commit: the
        # post-commit callbacks that follow (cron notifications) may take
        # long, and the jobs can start meanwhile.
        cr.precommit.add(mark_commit)
        # the enqueuing process commits its transaction, like a user request
        cr.commit()  # pylint: disable=invalid-commit
    return {"ok": True, "t": marks["t"], "began": began_at, "end": time.time()}


def main(argv):
    registry = Registry(odoo_config.load(argv))
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "quit":
            break
        out.write(json.dumps(handle(registry, command)) + "\n")
        out.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
