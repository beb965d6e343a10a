# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import time

from odoo import api, models


class Installed(models.AbstractModel):
    """Jobs of a model that a running pass's registry does not know until
    it follows the install (``test_module_install.py``)."""

    _name = "test.queue.job.sh.installed"
    _description = "Job of a module installed later"

    def installed_probe(self, key):
        self.env["test.queue.job.sh.probe"]._record(key, time.time())

    @api.model
    def enqueue(self, key):
        self.with_delay(description=f"installed {key}").installed_probe(key)
        return True
