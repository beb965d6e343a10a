# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The addon installs on a database that already runs queue_job, takes over
its waiting jobs, and uninstalls leaving nothing behind."""

import uuid

from conftest import _create, _drop, odoo_shell, run_odoo, sql

LEFTOVERS = """
SELECT (SELECT count(*) FROM ir_cron WHERE cron_name LIKE 'Job Queue: runner%%'),
       (SELECT count(*) FROM unnest(ARRAY['queue_job_sh_claim_state',
                                          'queue_job_sh_job_runner',
                                          'queue_job_sh_module_operation']) t
         WHERE to_regclass(t) IS NOT NULL),
       to_regprocedure('queue_job_sh_claim_snapshot()') IS NOT NULL,
       to_regclass('queue_job_sh_pending_index') IS NOT NULL
       AND to_regclass('queue_job_sh_date_done_index') IS NOT NULL
       AND to_regclass('queue_job_sh_date_started_index') IS NOT NULL,
       EXISTS (SELECT 1 FROM ir_model WHERE model LIKE 'queue.job.sh.%%'),
       to_regclass('queue_job_sh_pass') IS NOT NULL
"""


def odoo(db, *args):
    result = run_odoo(db, *args)
    assert " ERROR " not in result.stderr, result.stderr[-3000:]


def test_install_over_queue_job_then_uninstall():
    # a database of its own, not from the template: queue_job first
    db = f"qjsh_it_install_{uuid.uuid4().hex[:8]}"
    _create(db)
    try:
        odoo(db, "-i", "queue_job", "--without-demo=all")
        odoo_shell(
            db,
            'env["queue.job"].with_delay()._test_job()\nenv.cr.commit()\n',
        )
        odoo(db, "-i", "queue_job_sh")
        assert sql(db, LEFTOVERS) == [(1, 3, True, True, True, True)]
        # the job waiting from before is a runner's business now (one runner
        # woken; the install may trigger it more than once)
        assert sql(
            db,
            "SELECT count(DISTINCT trigger.cron_id) FROM ir_cron_trigger trigger "
            "JOIN ir_cron cron ON cron.id = trigger.cron_id "
            "WHERE cron.cron_name LIKE 'Job Queue: runner%%'",
        ) == [(1,)]
        odoo_shell(
            db,
            'env["ir.module.module"].search([("name", "=", "queue_job_sh")])'
            ".button_immediate_uninstall()\nenv.cr.commit()\n",
        )
        assert sql(db, LEFTOVERS) == [(0, 0, False, False, False, False)]
        assert sql(db, "SELECT state FROM queue_job") == [("pending",)]
    finally:
        _drop(db)
