# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models

from .. import module_operations, wake


class IrModuleModule(models.Model):
    _inherit = "ir.module.module"

    def _button_immediate_function(self, function):
        """Install, upgrade or uninstall from Apps once the runner passes
        have stepped aside (``module_operations.py``), and wake a runner
        after it: the jobs go on with the new modules."""
        with module_operations.runners_aside(self.env):
            result = super()._button_immediate_function(function)
        if "queue.job.sh.runner" in self.env:  # not when it was uninstalled
            wake.wake_one(self.env)
        return result
