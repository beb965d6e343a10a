# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import odoo_series, schema, wake


def post_init_hook(env):
    if "capacity" in odoo_series.channel_setting_fields(env):
        # the reactions to successive IP changes run in order
        env.ref("queue_job_sh.queue_job_channel_ip_change").capacity = 1
    env["queue.job.sh.runner"]._sync_runner_crons()
    # for /queue_job_sh/health and /queue_job_sh/metrics (shown in Settings)
    env["queue.job.sh.monitoring"]._monitoring_token()
    # jobs created before the install are waiting: run them now
    wake.wake_one(env)


def uninstall_hook(env):
    env["queue.job.sh.runner"]._runner_crons().unlink()
    schema.drop(env.cr)
