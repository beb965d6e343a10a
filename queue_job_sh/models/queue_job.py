# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from .. import schema, wake

WAKE_KEY = "queue_job_sh.wake_at"


class QueueJob(models.Model):
    _inherit = "queue.job"

    def init(self):
        schema.create(self.env.cr)

    @api.model_create_multi
    def create(self, vals_list):
        jobs = super().create(vals_list)
        jobs._wake_runners()
        return jobs

    def write(self, vals):
        result = super().write(vals)
        if vals.get("state") == "pending" or vals.get("eta"):
            self._wake_runners()
        return result

    def _wake_runners(self):
        """Wake a runner for the pending jobs in ``self``.

        At most one trigger per transaction for the jobs ready now, plus one
        per distinct minute of the ETAs ahead (a runner woken early for an
        ETA triggers itself at the exact time): the wake-up times already
        asked for are kept in the transaction's precommit data, which Odoo
        clears at commit and rollback.
        """
        now = fields.Datetime.now()
        asked = self.env.cr.precommit.data.setdefault(WAKE_KEY, set())
        wanted = set()
        for job in self:
            if job.state != "pending":
                continue
            if not job.eta or job.eta <= now:
                wanted.add(None)
            else:
                wanted.add(job.eta.replace(second=0, microsecond=0))
        new = wanted - asked
        if new:
            asked.update(new)
            wake.wake_one(self.env, sorted(now if at is None else at for at in new))
