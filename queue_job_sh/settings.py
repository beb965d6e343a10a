# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The server-side settings of queue_job_sh: ``ODOO_QUEUE_JOB_SH_<NAME>``
in the environment, else ``<name>`` in the ``[queue_job_sh]`` section of
Odoo's configuration file (the environment wins, as for queue_job's
``ODOO_QUEUE_JOB_*``). They are read at each use: tests and the platform
set them per process."""

import logging
import os

from . import odoo_series

_logger = logging.getLogger(__name__)

_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


def setting(name):
    """The raw value of setting ``name``, or None when it is not set."""
    return os.environ.get(f"ODOO_QUEUE_JOB_SH_{name.upper()}") or (
        odoo_series.config_file_section().get(name)
    )


def flag(name, default):
    """Setting ``name`` as a boolean (1/true/yes, 0/false/no), ``default``
    when it is not set or not one of those (an error is logged)."""
    value = setting(name)
    if value is None:
        return default
    if value.strip().lower() not in _TRUE + _FALSE:
        _logger.error(
            "Invalid queue_job_sh setting %s %r: not 1 or 0; %s used",
            name,
            value,
            int(default),
        )
        return default
    return value.strip().lower() in _TRUE
