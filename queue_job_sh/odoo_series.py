# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What differs between the Odoo series this addon runs on (18.0, 19.0).

Everything here is found by feature detection (the attribute or field is
there or not), never by comparing version numbers. Each difference has one
line saying what changed in Odoo or queue_job; the rest of the addon calls
these functions and knows nothing about series.
"""

import functools
from configparser import ConfigParser

from odoo import http
from odoo.tools import config


def cron_worker_will_sleep(worker):
    """Whether a prefork cron worker (``WorkerCron``) sleeps now rather than
    look for due crons in its next database: it has processed them all."""
    # 19.0: the db_index of the next database (0 = all done) became a deque
    # of the databases left, db_queue
    if hasattr(worker, "db_queue"):
        return not worker.db_queue
    return worker.db_index == 0


@functools.cache
def config_file_section():
    """The ``[queue_job_sh]`` section of the server's configuration file."""
    # 19.0: the configuration keeps only [options] (config.misc is gone), so
    # the file is read again, as queue_job 19.0 does for [queue_job]
    if hasattr(config, "misc"):
        return config.misc.get("queue_job_sh", {})
    parser = ConfigParser(interpolation=None)
    parser.read(config["config"] or ())
    return dict(parser["queue_job_sh"]) if parser.has_section("queue_job_sh") else {}


def commit_progress(env, done, remaining):
    """Tell Odoo's cron how far the running scheduled action is, and commit.

    ``done`` counts the items done since the action started. Outside a cron
    run (no progress record in the context) it only commits.
    """
    ir_cron = env["ir.cron"]
    # 19.0: _notify_progress(done=total) is deprecated (a py.warnings WARNING
    # per call) for _commit_progress(processed=increment), which commits
    if hasattr(ir_cron, "_commit_progress"):
        progress = (
            env["ir.cron.progress"]
            .sudo()
            .browse(env.context.get("ir_cron_progress_id"))
        )
        ir_cron._commit_progress(
            max(0, done - progress.done) if progress else 0, remaining=remaining
        )
        return
    ir_cron._notify_progress(done=done, remaining=remaining)
    env.cr.commit()  # pylint: disable=invalid-commit


def running_cron(env):
    """The ``ir.cron`` record running now (empty outside a cron run)."""
    cron_id = env.context.get("cron_id")
    # 18.0: "Run Manually" runs the action in the request with a progress
    # record but no cron_id (19.0 runs it as a cron worker does)
    if not cron_id and env.context.get("ir_cron_progress_id"):
        progress = (
            env["ir.cron.progress"].sudo().browse(env.context["ir_cron_progress_id"])
        )
        cron_id = progress.cron_id.id
    return env["ir.cron"].sudo().browse(cron_id)


def admin_users_domain(env):
    """Domain of the users who are Settings administrators."""
    # 19.0: res.users.groups_id became group_ids (explicit groups) and
    # all_group_ids (with the implied ones)
    field = (
        "all_group_ids" if "all_group_ids" in env["res.users"]._fields else "groups_id"
    )
    return [(field, "in", env.ref("base.group_system").id)]


def channel_setting_fields(env):
    """The ``queue.job.channel`` fields that configure queue_job's runner
    (capacity, sequential, throttle, paused...); empty when it has none."""
    # queue_job 19.0: the channel settings stored in the database are gone,
    # channels come from the channels option only (default "root:1")
    return getattr(env["queue.job.channel"], "_JOBRUNNER_CONFIG_FIELDS", frozenset())


def nodb_not_found_page():
    """The page of Odoo's 404 where no database serves a URL, or None where
    it is werkzeug's own 404 page."""
    # 19.0: a page of Odoo's own (http.NOT_FOUND_NODB), which says that no
    # database is selected; 18.0: werkzeug's NotFound
    return getattr(http, "NOT_FOUND_NODB", None)
