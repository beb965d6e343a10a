# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""How long a runner pass may keep starting jobs (no Odoo import).

Odoo kills a cron worker that runs past its real-time limit: the threaded
server reloads the whole process, prefork's watchdog sends SIGKILL. A pass
therefore stops *starting* jobs before that deadline, leaving a safety margin
for the job it is running. The job itself is never interrupted.
"""

# Part of the kill limit kept free for the job that runs when the pass stops
# starting new ones, and at least this many seconds.
SAFETY_RATIO = 0.2
MIN_SAFETY = 5.0
# Prefork's watchdog counts from its last ping, taken *before* the cron
# worker sleeps (up to SLEEP_INTERVAL + pid % 10 = 70 s). A pass cannot see
# how long that sleep was, so it assumes the worst when the limit allows it.
PREFORK_SLEEP = 70.0
# Length of a pass when no kill limit is known. Odoo.sh's cron worker is
# started about every 5 minutes; no public source gives its time limit. A
# pass of 1.5 periods outlasts the next start (a second runner takes over
# then) and ends long before 3 periods. In a process that runs the due
# scheduled actions once, it is counted from the start of the process (see
# pass_deadline).
DEFAULT_PASS_SECONDS = 450.0


def kill_limit(limit_time_real_cron, limit_time_real, prefork):
    """Seconds after which Odoo kills a cron pass, or None when it never does.

    Mirrors ``odoo/service/server.py``: prefork uses ``limit_time_real_cron``
    (-1 meaning ``limit_time_real``, 0 no watchdog); the threaded server uses
    ``limit_time_real_cron`` only when positive, else ``limit_time_real``.
    """
    limit_time_real_cron = limit_time_real_cron or 0
    if prefork:
        limit = limit_time_real if limit_time_real_cron < 0 else limit_time_real_cron
    else:
        limit = limit_time_real_cron if limit_time_real_cron > 0 else limit_time_real
    return limit or None


def _usable(limit):
    """Seconds of a kill limit a pass may use to start jobs."""
    return limit - max(MIN_SAFETY, limit * SAFETY_RATIO)


def pass_deadline(
    now, *, limit, prefork, pass_started=None, pass_seconds=None, process_started=None
):
    """The time (epoch seconds) after which a pass starts no new job.

    :param now: time of the pass start
    :param limit: the kill limit (:func:`kill_limit`), or None
    :param prefork: True in a prefork cron worker
    :param pass_started: when Odoo's limit clock started, if known (the
        threaded server's ``thread.start_time``, a prefork cron worker's
        last watchdog ping)
    :param pass_seconds: optional cap on the length of a pass, in seconds
    :param process_started: when the process started, for a process that
        runs the due scheduled actions once and exits (Odoo.sh's cron
        worker). No Odoo clock runs in such a process: only the platform
        kills it. Its passes share one budget counted from its start, of
        :data:`DEFAULT_PASS_SECONDS`, ``pass_seconds`` or the usable part of
        the kill limit, whichever is shortest: one that finds both runner
        crons due lingers in the first pass only, and no such process
        outlives 1.5 platform periods, whatever the limits.
    """
    length = min(DEFAULT_PASS_SECONDS, pass_seconds or DEFAULT_PASS_SECONDS)
    if process_started is not None:
        if limit:
            length = min(length, _usable(limit))
        return process_started + length
    if not limit:
        return now + length
    if pass_started is not None:
        deadline = pass_started + _usable(limit)
    elif prefork:
        deadline = now + max(_usable(limit) - PREFORK_SLEEP, _usable(limit) / 4)
    else:
        deadline = now + _usable(limit)
    if pass_seconds:
        deadline = min(deadline, now + pass_seconds)
    return deadline
