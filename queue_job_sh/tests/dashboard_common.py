# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Known jobs and passes for the Runners screen's tests.

Rows are inserted with SQL (queue_job's ``create`` is reserved to its Job
API and would wake the runners), at times relative to the database's
``now()``, the clock the figures are computed with; in a test it is the
start of the test's transaction.
"""

import os
import uuid
from datetime import timedelta
from unittest.mock import patch


class DashboardDataMixin:
    @classmethod
    def _setup_dashboard_data(cls):
        # room for channel capacities above queue_job's default of 1
        cls.startClassPatcher(
            patch.dict(os.environ, {"ODOO_QUEUE_JOB_MAX_CAPACITY": "8"})
        )
        cls.env.cr.execute("DELETE FROM queue_job")
        cls.env.cr.execute("DELETE FROM queue_job_sh_pass")
        cls.env.cr.execute("SELECT now() AT TIME ZONE 'UTC'")
        cls.now = cls.env.cr.fetchone()[0]

    @classmethod
    def _at(cls, seconds):
        """The time ``seconds`` from now (negative: ago), or None."""
        return None if seconds is None else cls.now + timedelta(seconds=seconds)

    @classmethod
    def _job(cls, state, channel, created=-60, eta=None, started=None, done=None):
        cls.env.cr.execute(
            """
            INSERT INTO queue_job (uuid, user_id, company_id, state, name,
                                   model_name, method_name, channel, priority,
                                   retry, max_retries, date_created, eta,
                                   date_started, date_done)
            VALUES (%s, %s, %s, %s, 'test job', 'res.partner', 'exists', %s, 10,
                    0, 5, %s, %s, %s, %s)
            RETURNING id
            """,
            (
                str(uuid.uuid4()),
                cls.env.uid,
                cls.env.company.id,
                state,
                channel,
                cls._at(created),
                cls._at(eta),
                cls._at(started),
                cls._at(done),
            ),
        )
        return cls.env.cr.fetchone()[0]

    @classmethod
    def _pass(cls, started, ended=None, end_reason=None, cron=None, done=0, alive=True):
        """A pass; one that has not ended runs on this test's database
        session, or, unless ``alive``, on a session that no longer exists
        (its process died)."""
        cron = cron or cls.env["queue.job.sh.runner"]._runner_crons()[:1]
        cls.env.cr.execute(
            "SELECT pid, backend_start AT TIME ZONE 'UTC' FROM pg_stat_activity "
            "WHERE pid = pg_backend_pid()"
        )
        backend_pid, backend_start = cls.env.cr.fetchone()
        return (
            cls.env["queue.job.sh.pass"]
            .sudo()
            .create(
                {
                    "cron_id": cron.id,
                    "pid": 4242,
                    "started_at": cls._at(started),
                    "ended_at": cls._at(ended),
                    "end_reason": end_reason,
                    "done_count": done,
                    "backend_pid": backend_pid if alive else -1,
                    "backend_start": backend_start,
                }
            )
        )
