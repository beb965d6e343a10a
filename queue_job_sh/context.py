# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Where a pass runs, and what follows from it: its deadline, whether it
waits for jobs when idle, whether it hands over to a new pass.

A pass runs in one of three places:

- one of Odoo's **cron loops** (a threaded server's cron thread, a prefork
  cron worker): they look for due scheduled actions again after each pass,
  so a pass may end early and be taken again at once;
- a **run-once process**: a process that runs the due scheduled actions
  once and exits, as Odoo.sh's cron worker is described. It makes its list
  of due crons when it starts, so a pass that ended early would leave jobs
  waiting for the next process;
- an **HTTP request** ("Run Manually" on a scheduled action).
"""

import dataclasses
import os
import threading
import time

import psutil

from odoo import http
from odoo.tools import config

from . import budget, cron_worker, settings


@dataclasses.dataclass(frozen=True)
class PassContext:
    """What a pass needs to know of where it runs (``pass_loop.PassLoop``)."""

    deadline: float
    in_cron_loop: bool
    lingers: bool


def in_cron_loop():
    """Whether the current pass runs in one of Odoo's cron loops."""
    return (
        getattr(threading.current_thread(), "type", None) == "cron"
        or cron_worker.pinged_at() is not None
    )


def linger_configured():
    """Whether idle passes wait for new jobs until their deadline.

    On Odoo.sh (``ODOO_STAGE`` is set) the platform starts the cron worker
    every few minutes and does not wake it for triggers: a pass that ended
    when the queue was empty would leave new jobs waiting minutes. There it
    lingers, woken within milliseconds by queue_job's NOTIFY. Elsewhere cron
    workers are woken by triggers. The ``linger`` setting overrides the
    rule.
    """
    return settings.flag("linger", bool(os.environ.get("ODOO_STAGE")))


def kill_limit():
    """Seconds after which Odoo kills a cron pass here, or None."""
    return budget.kill_limit(
        config["limit_time_real_cron"],
        config["limit_time_real"],
        bool(config["workers"]),
    )


def current():
    """The :class:`PassContext` of a pass starting now in this thread."""
    now = time.time()
    cron_loop = in_cron_loop()
    prefork = bool(config["workers"])
    if prefork:
        clock_started = cron_worker.pinged_at()
    else:
        # the threaded server's limit clock (cron threads and HTTP threads)
        clock_started = getattr(threading.current_thread(), "start_time", None)
    process_started = None
    if not cron_loop and not http.request:
        process_started = psutil.Process().create_time()
    pass_seconds = settings.setting("pass_seconds")
    return PassContext(
        deadline=budget.pass_deadline(
            now,
            limit=kill_limit(),
            prefork=prefork,
            pass_started=clock_started,
            pass_seconds=float(pass_seconds) if pass_seconds else None,
            process_started=process_started,
        ),
        in_cron_loop=cron_loop,
        # never inside an HTTP request: "Run Manually" must answer
        lingers=linger_configured() and not http.request,
    )
