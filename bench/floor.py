# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The benchmark's *floor* runner: the most a runner built on queue_job's Job
API can do on this machine.

A bare loop, as one would type it in ``odoo shell``: take one pending job
(``SELECT ... FOR UPDATE SKIP LOCKED``), ``Job.load``, ``set_started``,
``store``, **commit** (the job shows started while it runs, as in queue_job),
``perform``, ``set_done``, ``store``, commit. No channels, no lock row held,
no recovery, no progress, no cron: only the two commits queue_job's
semantics need. The harness starts as many of these processes as the other
runners have capacity.

Started with Odoo's command line options; prints ``{"ready": true}`` once
its registry is loaded, then runs until SIGTERM.
"""

import json
import pathlib
import signal
import sys
import time

from psycopg2 import errors

from odoo import api
from odoo.modules.registry import Registry

from odoo.addons.queue_job.job import Job

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "dev"))
import odoo_config  # noqa: E402

# Seconds between two looks at an empty queue.
POLL = 0.005

_stopping = False


def _stop(_signum, _frame):
    global _stopping
    _stopping = True


def run(registry):
    with registry.cursor() as cr:
        env = api.Environment(cr, api.SUPERUSER_ID, {})
        while not _stopping:
            try:
                cr.execute(
                    "SELECT uuid FROM queue_job WHERE state = 'pending' "
                    "LIMIT 1 FOR UPDATE SKIP LOCKED",
                    log_exceptions=False,
                )
            except errors.SerializationFailure:
                # the other loop started that job after this snapshot
                cr.rollback()
                continue
            row = cr.fetchone()
            if not row:
                cr.rollback()
                time.sleep(POLL)
                continue
            job = Job.load(env, row[0])
            job.set_started()
            job.store()
            cr.commit()  # pylint: disable=invalid-commit
            job.perform()
            job.set_done()
            job.store()
            env.flush_all()
            cr.commit()  # pylint: disable=invalid-commit
            env.invalidate_all()


def main(argv):
    registry = Registry(odoo_config.load(argv))
    signal.signal(signal.SIGTERM, _stop)
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    run(registry)


if __name__ == "__main__":
    main(sys.argv[1:])
