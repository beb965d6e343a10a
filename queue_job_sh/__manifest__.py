# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Job Queue on Odoo.sh",
    "summary": "Run queue_job jobs on cron workers, for Odoo.sh",
    "version": "1.2.0",
    "development_status": "Alpha",
    "author": "Odoo Community Association (OCA)",
    "maintainers": [],
    "website": "https://github.com/OCA/queue",
    "license": "LGPL-3",
    "category": "Generic Modules",
    "depends": ["queue_job"],
    "data": [
        "security/ir.model.access.csv",
        "views/queue_job_sh_pass_views.xml",
        "views/queue_job_sh_dashboard_views.xml",
        "data/queue_job_sh_ip_change_data.xml",
        "views/res_config_settings_views.xml",
    ],
    "assets": {
        "web.assets_backend": ["queue_job_sh/static/src/runners_dashboard/*"],
        "web.assets_tests": ["queue_job_sh/static/tests/tours/*"],
    },
    "post_init_hook": "post_init_hook",
    "uninstall_hook": "uninstall_hook",
    "installable": True,
}
