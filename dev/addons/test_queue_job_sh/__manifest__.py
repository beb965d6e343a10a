# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "queue_job_sh tests",
    "summary": "Jobs with countable side effects, for the demo, tests and benchmark",
    "version": "1.0.0",
    "author": "Odoo Community Association (OCA)",
    "website": "https://github.com/OCA/queue",
    "license": "LGPL-3",
    "category": "Hidden/Tests",
    "depends": ["queue_job"],
    "data": ["security/ir.model.access.csv"],
    "application": False,
    "installable": True,
}
