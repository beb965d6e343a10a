# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models

from .. import odoo_series, wake


class QueueJobChannel(models.Model):
    _inherit = "queue.job.channel"

    @api.model_create_multi
    def create(self, vals_list):
        channels = super().create(vals_list)
        self.env["queue.job.sh.runner"]._sync_runner_crons()
        return channels

    def write(self, vals):
        result = super().write(vals)
        if odoo_series.channel_setting_fields(self.env).intersection(vals):
            # capacity changes change the number of runners; pausing or
            # resuming may let jobs run now
            self.env["queue.job.sh.runner"]._sync_runner_crons()
            wake.wake_one(self.env)
        return result
