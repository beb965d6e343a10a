# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "queue_job_sh tests: a module installed later",
    "summary": "A job method that exists only once this module is installed",
    "version": "1.0.0",
    "author": "Odoo Community Association (OCA)",
    "website": "https://github.com/OCA/queue",
    "license": "LGPL-3",
    "category": "Hidden/Tests",
    "depends": ["test_queue_job_sh"],
    "application": False,
    "installable": True,
}
