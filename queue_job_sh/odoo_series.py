# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What differs between the Odoo series this addon runs on (18.0, 19.0).

Everything here is found by feature detection (the attribute or field is
there or not), never by comparing version numbers. Each difference has one
line saying what changed in Odoo or queue_job; the rest of the addon calls
these functions and knows nothing about series.
"""

import functools
import os
import select
import time
from configparser import ConfigParser

from odoo import http
from odoo.service import server
from odoo.tools import config

# Prefork's watchdog counts from the ping a cron worker sends right before
# it sleeps; record when that was so a pass knows how much time it has.
_cron_worker_pinged_at = None


def _cron_worker_will_sleep(worker):
    """Whether WorkerCron.sleep() sleeps now: all databases were processed."""
    # 19.0: the db_index of the next database (0 = all done) became a deque
    # of the databases left, db_queue
    if hasattr(worker, "db_queue"):
        return not worker.db_queue
    return worker.db_index == 0


def _worker_cron_sleep(self):
    """WorkerCron.sleep, stamped, awake at once, short enough for its watchdog.

    Odoo's cron worker sleeps up to SLEEP_INTERVAL + 9 s (69 s) between two
    looks for due crons, waking early on a NOTIFY. Here:

    - its first sleep is skipped: a cron worker just started (a server
      start, a restart after a kill -9, a recycled worker) looks for due
      crons at once; the NOTIFYs sent before it listened (the runners'
      wake-ups at server start, jobs enqueued meanwhile) never reach it, so
      it would sleep a minute while jobs wait;
    - woken by a NOTIFY, it does not first sleep ``pid / 100 % 0.1`` s
      more (Odoo's way of spreading the workers' looks): a job enqueued on
      an idle server would wait for it, and the workers' looks take
      distinct crons anyway (SKIP LOCKED);
    - its watchdog counts that sleep: with a ``limit_time_real_cron`` below
      it, an idle worker would be killed in its sleep again and again and
      run no cron at all unless a NOTIFY comes, so the jobs of a worker
      killed at its limit would never be recovered. Such a worker sleeps at
      most a quarter of its limit instead, which leaves a pass woken by that
      timeout some time (budget.py keeps 5 s of margin).
    """
    global _cron_worker_pinged_at
    first_sleep = _cron_worker_pinged_at is None
    _cron_worker_pinged_at = time.time()
    if first_sleep or not _cron_worker_will_sleep(self):
        return
    interval = server.SLEEP_INTERVAL + self.pid % 10
    limit = self.watchdog_timeout
    if limit and limit <= server.SLEEP_INTERVAL + 10:
        interval = limit / 4
    select.select([self.wakeup_fd_r, self.dbcursor._cnx], [], [], interval)
    self.dbcursor._cnx.poll()
    server.empty_pipe(self.wakeup_fd_r)


server.WorkerCron.sleep = _worker_cron_sleep


def cron_worker_pinged_at():
    """When this prefork cron worker last pinged its watchdog (an epoch), or
    None outside a prefork cron worker."""
    return _cron_worker_pinged_at


@functools.cache
def _config_file_section():
    """The ``[queue_job_sh]`` section of the server's configuration file."""
    # 19.0: the configuration keeps only [options] (config.misc is gone), so
    # the file is read again, as queue_job 19.0 does for [queue_job]
    if hasattr(config, "misc"):
        return config.misc.get("queue_job_sh", {})
    parser = ConfigParser(interpolation=None)
    parser.read(config["config"] or ())
    return dict(parser["queue_job_sh"]) if parser.has_section("queue_job_sh") else {}


def setting(name):
    """A queue_job_sh setting: ODOO_QUEUE_JOB_SH_<NAME> in the environment,
    else ``<name>`` in the ``[queue_job_sh]`` section of the config file."""
    return os.environ.get(f"ODOO_QUEUE_JOB_SH_{name.upper()}") or (
        _config_file_section().get(name)
    )


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
