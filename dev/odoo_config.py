# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Odoo's configuration, for the scripts that run inside Odoo's Python
without a server (the Odoo.sh simulator's cron process, the benchmark's
helper and floor)."""

from odoo.tools import config


def load(argv):
    """Parse Odoo's command line ``argv``; the (first) database it names."""
    config.parse_config(argv)
    db_name = config["db_name"]
    # a comma-separated string up to Odoo 18, a list from 19
    return db_name[0] if isinstance(db_name, list) else db_name.split(",")[0]
