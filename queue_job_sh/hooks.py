# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tools import SQL

from . import odoo_series


def post_init_hook(env):
    if "capacity" in odoo_series.channel_setting_fields(env):
        # the reactions to successive IP changes run in order
        env.ref("queue_job_sh.queue_job_channel_ip_change").capacity = 1
    env["queue.job.sh.runner"]._sync_runner_crons()
    # for /queue_job_sh/health and /queue_job_sh/metrics (shown in Settings)
    env["queue.job.sh.monitoring"]._monitoring_token()
    # jobs created before the install are waiting: run them now
    env["queue.job.sh.runner"]._wake()


def uninstall_hook(env):
    env["queue.job.sh.runner"]._runner_crons().unlink()
    env.cr.execute("DROP TABLE IF EXISTS queue_job_sh_claim_state")
    env.cr.execute("DROP FUNCTION IF EXISTS queue_job_sh_claim_snapshot()")
    for index in (
        "queue_job_sh_pending_index",
        "queue_job_sh_date_done_index",
        "queue_job_sh_date_started_index",
    ):
        env.cr.execute(SQL("DROP INDEX IF EXISTS %s", SQL.identifier(index)))
