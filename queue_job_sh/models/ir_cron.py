# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models

from .. import wake


class IrCron(models.Model):
    _inherit = "ir.cron"

    @api.model
    def _notifydb(self):
        """Wake up the cron workers, on a connection kept open
        (``wake.notify_cron_workers``): same NOTIFY, same listeners."""
        wake.notify_cron_workers(self.env.cr.dbname)
