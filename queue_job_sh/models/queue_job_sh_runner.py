# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The runner crons: run queue_job's jobs on Odoo's cron workers.

Each runner ``ir.cron`` record runs :meth:`QueueJobShRunner._run_pass`. A
pass claims one job at a time (``claim.py``: one transaction that starts
it), takes its lock with queue_job's ``Job.lock()`` and runs it through
queue_job's own ``RunJobController._runjob``, as the ``/queue_job/runjob``
route does after ``_acquire_job``, until the queue is empty or the pass's
time budget (``budget.py``) is spent; it requeues the jobs of dead runners
whenever it finds nothing to start, and every few seconds.

Odoo locks a cron record while it runs, so one record never runs twice at
once; parallelism is the number of runner records, kept equal to the root
channel's capacity by :meth:`_sync_runner_crons`.
"""

import logging
import os
import random
import select
import threading
import time
import traceback
from datetime import timedelta, timezone

import psutil
import psycopg2
from psycopg2 import OperationalError

from odoo import SUPERUSER_ID, api, fields, http, models
from odoo.service.model import PG_CONCURRENCY_ERRORS_TO_RETRY
from odoo.sql_db import connection_info_for
from odoo.tools import config

from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.jobrunner import runner as queue_job_runner
from odoo.addons.queue_job.jobrunner.channels import ChannelManager

from .. import budget, claim, cron_worker, odoo_series

_logger = logging.getLogger(__name__)

# Tries of a claim or a recovery that lost a race with another runner.
CONCURRENCY_TRIES = 5
# A pass still open after this long is considered dead (its worker was
# killed) when looking for an idle runner to wake.
OPEN_PASS_TIMEOUT = timedelta(hours=1)
# An idle pass waits for a job whose ETA is this close (seconds).
NEAR_ETA = 10
# A pass in one of Odoo's cron loops that finds the queue empty waits this
# long (seconds) for a new job before it ends. Starting a pass costs tens of
# milliseconds (the cron NOTIFY, the cron worker's look for due scheduled
# actions, its progress record, the server action, the pass's own record),
# and jobs come in bursts: a job enqueued meanwhile starts within a few
# milliseconds of its commit, woken by queue_job's NOTIFY. Other scheduled
# actions wait at most this long for the cron worker.
IDLE_WAIT = 2
# How often a busy pass requeues dead jobs (seconds). In one of Odoo's cron
# loops a pass that has run jobs also ends then, and triggers its cron, which
# the loop takes again at once, after any other scheduled action that fell
# due meanwhile. Odoo keeps the transaction that locks the cron record open
# for the whole pass, and PostgreSQL cannot prune what other transactions
# updated while a snapshot that old is open: every claim's index scans would
# wade through the old versions of every job run since the pass began (the
# claim's state read took 0.13 ms at the start of a drain and 0.66 ms after
# 3000 jobs, under its lock). A new pass starts from a new transaction.
HOUSEKEEPING_INTERVAL = 5
OUTCOMES = ("done_count", "failed_count", "retried_count")
# Seconds a pass keeps the channel configuration before reading it again.
CHANNELS_REFRESH = 1
# Seconds between two progress reports of a pass.
PROGRESS_INTERVAL = 5
# Per database, the number of runner crons this process last synced them to
# (_sync_runner_crons).
_SYNCED_RUNNERS = {}
# Seconds before each wake-up of the runners after the server's registry is
# ready: the threaded server's cron threads start listening right after it,
# a prefork server's new cron workers look for due crons at once
# (odoo_series._worker_cron_sleep); the later wakes are for slow starts.
STARTUP_WAKES = (0.2, 1, 3)


def _lingers():
    """Whether idle passes wait for new jobs until their deadline.

    On Odoo.sh (``ODOO_STAGE`` is set) the platform starts the cron worker
    every few minutes and does not wake it for triggers: a pass that ended
    when the queue was empty would leave new jobs waiting minutes. There it
    lingers, woken within milliseconds by queue_job's NOTIFY. Elsewhere cron
    workers are woken by triggers, and a pass ends when the queue is empty.
    The ``linger`` setting (1/0) overrides the rule. Never inside an HTTP
    request (a pass started with "Run Manually").
    """
    return _linger_configured() and not http.request


def _linger_configured():
    value = odoo_series.setting("linger")
    if value is not None:
        return value.strip().lower() in ("1", "true", "yes")
    return bool(os.environ.get("ODOO_STAGE"))


def _in_cron_loop():
    """Whether this pass runs in one of Odoo's own cron loops.

    Odoo's cron threads and prefork cron workers look for due scheduled
    actions again after each pass: a busy pass that ends early (yields,
    see HOUSEKEEPING_INTERVAL) is taken again at once, after a scheduled
    action that fell due meanwhile. A process that runs the due scheduled
    actions once and exits, as Odoo.sh's cron worker is described, cannot:
    its list was made when it started, and the runner crons come last in
    it, so it already ran every scheduled action due then. There a pass
    does not yield; ending early would only delay jobs.
    """
    return (
        getattr(threading.current_thread(), "type", None) == "cron"
        or cron_worker.pinged_at() is not None
    )


def _pass_seconds():
    """The optional cap on a pass's length, from the env or config file."""
    value = odoo_series.setting("pass_seconds")
    return float(value) if value else None


def _pass_deadline():
    prefork = bool(config["workers"])
    thread = threading.current_thread()
    if prefork:
        started = cron_worker.pinged_at()
    else:
        # the threaded server's limit clock (cron threads and HTTP threads)
        started = getattr(thread, "start_time", None)
    process_started = None
    if not _in_cron_loop() and not http.request:
        # a process that runs the due scheduled actions once (budget.py)
        process_started = psutil.Process().create_time()
    return budget.pass_deadline(
        time.time(),
        limit=budget.kill_limit(
            config["limit_time_real_cron"], config["limit_time_real"], prefork
        ),
        prefork=prefork,
        pass_started=started,
        pass_seconds=_pass_seconds(),
        process_started=process_started,
    )


class _JobNotifications:
    """Wait for queue_job's NOTIFY on channel ``queue_job``.

    queue_job's ``queue_job_notify`` trigger sends one for every change of a
    job, committed. The listening connection is opened lazily (most passes
    never wait), in autocommit so that it holds no transaction, and closed
    with the pass.
    """

    def __init__(self, dbname):
        self.dbname = dbname
        self.connection = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.connection is not None:
            self.connection.close()

    def wait(self, seconds):
        if seconds <= 0:
            return
        if self.connection is None:
            _dsn, info = connection_info_for(self.dbname)
            self.connection = psycopg2.connect(**info)
            self.connection.autocommit = True
            self.connection.cursor().execute("LISTEN queue_job")
            return  # jobs may have come while it connected: look again
        select.select([self.connection], [], [], seconds)
        self.connection.poll()
        self.connection.notifies.clear()


class _QuietCursor:
    """Odoo's cursor, minus its ERROR log of the queries that fail.

    Odoo logs every failing query as "bad query" before raising. The
    claim and recovery queries are expected to lose races now and then
    (serialization failures): those are retried quietly, and any other
    error reaches the pass, which logs it.
    """

    def __init__(self, cr):
        self._cr = cr

    def execute(self, query, params=None):
        return self._cr.execute(query, params, log_exceptions=False)

    def __getattr__(self, name):
        return getattr(self._cr, name)


class QueueJobShRunner(models.AbstractModel):
    _name = "queue.job.sh.runner"
    _description = "Job Queue Runner on Cron Workers"

    # ------------------------------------------------------------------
    # Configuration: queue_job's channels
    # ------------------------------------------------------------------
    @api.model
    def _channels(self):
        """queue_job's channel configuration for this database.

        Same sources and precedence as queue_job's runner: the ``channels``
        string (``ODOO_QUEUE_JOB_CHANNELS`` or ``[queue_job] channels``),
        unless :meth:`_channels_from_records`: then the ``queue.job.channel``
        records, with the root capacity bounded by ``max_capacity`` /
        ``db_max_capacity``.
        """
        if not self._channels_from_records():
            channels_string = queue_job_runner._channels()
            configs = [
                claim.ChannelConfig(
                    name=item["name"],
                    capacity=int(item.get("capacity") or 0),
                    sequential=bool(item.get("sequential")),
                    throttle=int(item.get("throttle") or 0),
                    paused=bool(item.get("paused")),
                    capacity_default=int(item.get("capacity_default") or 0),
                    sequential_default=bool(item.get("sequential_default")),
                )
                for item in ChannelManager.parse_simple_config(channels_string)
            ]
            root = next(
                (c for c in configs if claim.complete_name(c.name) == "root"), None
            )
            # queue_job's root channel has a capacity of 1 unless configured
            return claim.Channels(configs, root.capacity if root else 1)
        self.env["queue.job.channel"].flush_model()
        self.env.cr.execute(
            "SELECT complete_name, capacity, sequential, throttle, paused, "
            "capacity_default, sequential_default FROM queue_job_channel"
        )
        configs = [claim.ChannelConfig(*row) for row in self.env.cr.fetchall()]
        db_max = max(
            0,
            queue_job_runner.db_max_capacity_for(
                self.env.cr.dbname,
                queue_job_runner.parse_db_max_capacity(
                    queue_job_runner._db_max_capacity()
                ),
                default=queue_job_runner._max_capacity(),
            ),
        )
        root = next((c for c in configs if c.name == "root"), None)
        root_capacity = min(root.capacity, db_max) if root and root.capacity else db_max
        return claim.Channels(configs, root_capacity)

    @api.model
    def _channels_from_records(self):
        """Whether the ``queue.job.channel`` records configure the channels:
        the installed queue_job keeps channel settings in them, and its
        ``channels`` option is not set."""
        return (
            bool(odoo_series.channel_setting_fields(self.env))
            and not queue_job_runner._channels()
        )

    # ------------------------------------------------------------------
    # The runner crons
    # ------------------------------------------------------------------
    @api.model
    def _runner_crons(self):
        return (
            self.env["ir.cron"]
            .sudo()
            .with_context(active_test=False)
            .search([("model_id.model", "=", self._name)], order="id")
        )

    @api.model
    def _sync_runner_crons(self, if_changed=False):
        """Keep one runner cron per unit of the root channel's capacity.

        With ``if_changed``, only when this process has not synced them to
        that number yet (a pass's start: a new process, new channels).
        """
        try:
            wanted = max(1, self._channels().root_capacity)
        except ValueError as error:
            _logger.error("Invalid queue_job channel configuration: %s", error)
            return
        if _linger_configured():
            # a lingering pass holds its cron: a second one lets the next
            # cron worker start take over before the first pass ends
            wanted = max(2, wanted)
        if if_changed and _SYNCED_RUNNERS.get(self.env.cr.dbname) == wanted:
            return
        _SYNCED_RUNNERS[self.env.cr.dbname] = wanted
        crons = self._runner_crons()
        for number in range(len(crons) + 1, wanted + 1):
            self.env["ir.cron"].sudo().create(
                {
                    "name": f"Job Queue: runner {number}",
                    "model_id": self.env["ir.model"]._get_id(self._name),
                    "state": "code",
                    "code": "model._run_pass()",
                    "user_id": SUPERUSER_ID,
                    "interval_number": 1,
                    "interval_type": "minutes",
                    # after the other scheduled actions of a cron worker pass
                    "priority": 10,
                }
            )
        extra = crons[wanted:]
        if extra:
            # Only delete runners that are not running: a running cron is
            # row-locked by its cron worker, SKIP LOCKED passes it over (it
            # goes at a later sync). The lock taken here lasts until the
            # caller's commit.
            self.env.cr.execute(
                "SELECT id FROM ir_cron WHERE id = ANY(%s) "
                "FOR NO KEY UPDATE SKIP LOCKED",
                (extra.ids,),
            )
            idle = [row[0] for row in self.env.cr.fetchall()]
            extra.browse(idle).unlink()

    @api.model
    def _wake(self, at_list=None):
        """Trigger one idle runner cron, now or at each of ``at_list``."""
        crons = self._runner_crons().filtered("active")
        if not crons:
            return
        self.env.cr.execute(
            "SELECT DISTINCT cron_id FROM queue_job_sh_pass "
            "WHERE ended_at IS NULL AND started_at > %s",
            (fields.Datetime.now() - OPEN_PASS_TIMEOUT,),
        )
        busy = {row[0] for row in self.env.cr.fetchall()}
        idle = crons.filtered(lambda cron: cron.id not in busy)
        (idle or crons)[0]._trigger(at_list or fields.Datetime.now())

    @api.model
    def _wake_idle_siblings(self, cron):
        """Work is left over: wake the runners that are neither running nor
        already triggered."""
        self.env.cr.execute(
            """
            SELECT cron.id FROM ir_cron cron
             WHERE cron.id = ANY(%(ids)s) AND cron.active
               AND NOT EXISTS (SELECT 1 FROM queue_job_sh_pass pass
                                WHERE pass.cron_id = cron.id
                                  AND pass.ended_at IS NULL
                                  AND pass.started_at > %(open_since)s)
               AND NOT EXISTS (SELECT 1 FROM ir_cron_trigger trigger
                                WHERE trigger.cron_id = cron.id
                                  AND trigger.call_at <= %(now)s)
            """,
            {
                "ids": (self._runner_crons() - cron).ids,
                "open_since": fields.Datetime.now() - OPEN_PASS_TIMEOUT,
                "now": fields.Datetime.now(),
            },
        )
        for (cron_id,) in self.env.cr.fetchall():
            self.env["ir.cron"].sudo().browse(cron_id)._trigger()

    def _register_hook(self):
        """Resume at once after a restart (a kill -9, a crash, a deploy).

        Odoo's cron threads first sleep up to a minute unless a NOTIFY wakes
        them, and a runner cron is due only once a minute. When jobs wait
        (or were left running by a dead worker), trigger a runner right
        after this registry is ready (STARTUP_WAKES): the trigger row makes
        it due for the prefork cron workers, which look for due crons as soon
        as they start (odoo_series._worker_cron_sleep), and its NOTIFY wakes
        the threaded server's cron threads, which listen right after it.
        """
        result = super()._register_hook()
        if config["stop_after_init"]:
            return result
        self.env.cr.execute(
            "SELECT 1 FROM queue_job "
            "WHERE state IN ('pending', 'enqueued', 'started') LIMIT 1"
        )
        if self.env.cr.fetchone():
            threading.Thread(
                target=self._wake_when_ready,
                args=(self.env.registry,),
                name="queue_job_sh startup wake",
                daemon=True,
            ).start()
        return result

    @staticmethod
    def _wake_when_ready(registry):
        ready_by = time.monotonic() + 300
        while not registry.ready:
            if time.monotonic() > ready_by:
                return
            time.sleep(0.2)
        for delay in STARTUP_WAKES:
            time.sleep(delay)
            try:
                with registry.cursor() as cr:
                    api.Environment(cr, SUPERUSER_ID, {})["queue.job.sh.runner"]._wake()
            except Exception:  # the server may be stopping: nothing to save
                _logger.debug("startup wake failed", exc_info=True)

    # ------------------------------------------------------------------
    # A pass
    # ------------------------------------------------------------------
    def _retry_on_concurrency(self, function, *args):
        """Run ``function(cr, *args)`` in a transaction of its own and commit.

        Runners race each other on the same rows; PostgreSQL then reports a
        serialization failure, a deadlock or a lock timeout. Those are
        expected: roll back and try again, a few times, quietly.
        """
        cr = self.env.cr
        for attempt in range(CONCURRENCY_TRIES):
            try:
                result = function(_QuietCursor(cr), *args)
                cr.commit()  # pylint: disable=invalid-commit
                return result
            except OperationalError as error:
                cr.rollback()
                if error.pgcode not in PG_CONCURRENCY_ERRORS_TO_RETRY:
                    raise
                _logger.debug("runner concurrency error, retrying: %s", error)
                time.sleep(random.uniform(0, 0.05 * 2**attempt))
        return None

    @api.model
    def _run_pass(self):
        """Entry point of the runner crons. Never raises: a failing cron
        would end up deactivated by Odoo."""
        deadline = _pass_deadline()
        cron = odoo_series.running_cron(self.env)
        # One transaction before the first claim (a job enqueued on an idle
        # server waits for it): the pass is recorded, so that it shows as
        # running (wakers prefer idle runners, the dashboard shows it), the
        # runner crons follow the root capacity (one per unit) if it
        # changed, and progress is reported before any job runs, so that a
        # pass killed while it runs its first job does not count as a
        # timed-out cron (Odoo fails, then deactivates, crons killed 3 times
        # without progress). commit_progress commits. It is bookkeeping: its
        # commit does not wait for the disk (a crash of PostgreSQL could only
        # lose the record of this pass's start, which its end writes again).
        values = {
            "cron_id": cron.id,
            "pid": os.getpid(),
            "started_at": fields.Datetime.now(),
        }
        record = self.env["queue.job.sh.pass"].sudo().create(values)
        stats = dict.fromkeys(OUTCOMES, 0)
        stats["recovered_count"] = 0
        try:
            http_runner = claim.queue_job_runner_active(
                self.env.cr, queue_job_runner.PG_ADVISORY_LOCK_ID
            )
            if not http_runner:
                # so that the siblings this pass wakes exist
                self._sync_runner_crons(if_changed=True)
            self.env.cr.execute("SET LOCAL synchronous_commit TO OFF")
            odoo_series.commit_progress(self.env, done=1, remaining=1)
            if http_runner:
                _logger.warning(
                    "queue_job's HTTP jobrunner is running on database %s: "
                    "queue_job_sh leaves the jobs to it. Run only one of them: "
                    "remove queue_job from server_wide_modules, or uninstall "
                    "queue_job_sh.",
                    self.env.cr.dbname,
                )
                stats["end_reason"] = "http_runner"
            else:
                stats["end_reason"] = self._run_jobs(cron, deadline, stats)
                # and again, in case someone else changed them meanwhile
                self._sync_runner_crons()
        except Exception:
            self.env.cr.rollback()
            _logger.exception("queue_job_sh runner pass failed")
            stats.update(end_reason="error", error=traceback.format_exc())
            if not record.exists():  # rolled back with the first transaction
                record = self.env["queue.job.sh.pass"].sudo().create(values)
        record.write(dict(stats, ended_at=fields.Datetime.now()))
        # Remaining is reported 0 even when work is left: the pass has
        # triggered its cron instead, because Odoo's immediate re-run loop
        # would share this pass's time limit.
        done = sum(stats[key] for key in OUTCOMES)
        odoo_series.commit_progress(self.env, done=max(1, done), remaining=0)

    def _recover_dead_jobs(self):
        recovered = self._retry_on_concurrency(claim.requeue_dead_jobs) or []
        failed = []
        for uuid, state in recovered:
            _logger.warning("Job %s found dead: set %s", uuid, state)
            if state == "failed":
                failed.append(uuid)
        if failed:
            jobs = self.env["queue.job"].sudo().search([("uuid", "in", failed)])
            jobs._message_post_on_failure()
            self.env.cr.commit()  # pylint: disable=invalid-commit
        return len(recovered)

    def _run_jobs(self, cron, deadline, stats):
        """Claim and run jobs until none is ready or time is up."""
        woke_siblings_at = channels_at = 0
        progress_at = time.time()
        # The first claim comes first; dead jobs are looked for when a claim
        # finds nothing, then every HOUSEKEEPING_INTERVAL.
        housekeeping_at = progress_at + HOUSEKEEPING_INTERVAL
        # when an idle pass in a cron loop ends, unless a job comes first
        idle_until = None
        pid = os.getpid()
        with _JobNotifications(self.env.cr.dbname) as notifications:
            while True:
                now = time.time()
                if now >= deadline:
                    # even in a pass left with no time: dead jobs hold
                    # capacity, and nothing else gives them back
                    stats["recovered_count"] += self._recover_dead_jobs()
                    if claim.count_ready(self.env.cr, cap=1):
                        # a fresh pass right after this one, on any worker
                        cron._trigger()
                    return "budget"
                if now >= housekeeping_at:
                    housekeeping_at = now + HOUSEKEEPING_INTERVAL
                    stats["recovered_count"] += self._recover_dead_jobs()
                    if _in_cron_loop() and any(stats[key] for key in OUTCOMES):
                        # a new pass, with a new cron transaction (see
                        # HOUSEKEEPING_INTERVAL); the trigger's NOTIFY wakes
                        # this loop again as soon as the pass has ended
                        cron._trigger()
                        return "yielded"
                if now - channels_at > CHANNELS_REFRESH:
                    channels, channels_at = self._channels(), now
                # The claim commits at once: the jobs show started (with
                # their lock rows) and the claim lock is released for other
                # runners.
                claimed = self._retry_on_concurrency(claim.claim, channels, pid)
                if claimed is None:
                    continue
                if not claimed.jobs:
                    recovered = self._recover_dead_jobs()
                    if recovered:
                        stats["recovered_count"] += recovered
                        continue
                    if idle_until is None and _in_cron_loop():
                        idle_until = time.time() + IDLE_WAIT
                    wait_until = self._wait_until(deadline, idle_until)
                    if wait_until is None:
                        self._trigger_next_eta(cron)
                        return "queue_empty"
                    notifications.wait(min(wait_until, housekeeping_at) - time.time())
                    continue
                idle_until = None
                if claimed.more and now - woke_siblings_at > 1:
                    self._wake_idle_siblings(cron)
                    self.env.cr.commit()  # pylint: disable=invalid-commit
                    woke_siblings_at = now
                for job in claimed.jobs:
                    outcome = self._run_job(job)
                    if outcome:
                        stats[outcome] += 1
                if now - progress_at > PROGRESS_INTERVAL:
                    # Progress that Odoo reads (see _run_pass), refreshed
                    # now and then rather than at every job: its own write
                    # and commit would cost as much as a short job.
                    progress_at = now
                    done = sum(stats[key] for key in OUTCOMES)
                    odoo_series.commit_progress(
                        self.env, done=max(1, done), remaining=1
                    )

    def _wait_until(self, deadline, idle_until):
        """Until when an idle pass waits for work, or None to end it now.

        A lingering pass (:func:`_lingers`) waits until its deadline. Any
        other pass waits until ``idle_until`` (see IDLE_WAIT; None outside
        Odoo's cron loops), and for what comes within NEAR_ETA seconds,
        since Odoo wakes crons for future triggers only once a minute: a
        job's ETA, or the moment the job of a crashed worker, which holds
        capacity, may be recovered. It wakes at the first of those moments
        and asks again.
        """
        moments = [claim.next_eta(self.env.cr), claim.next_recovery(self.env.cr)]
        self.env.cr.commit()  # pylint: disable=invalid-commit
        soonest = min(
            (
                moment.replace(tzinfo=timezone.utc).timestamp()
                for moment in moments
                if moment
            ),
            default=None,
        )
        if _lingers():
            return min(deadline, soonest) if soonest else deadline
        now = time.time()
        wake_at = []
        if idle_until and idle_until > now:
            wake_at.append(min(idle_until, deadline))
        if soonest and soonest - now <= NEAR_ETA and soonest < deadline:
            wake_at.append(soonest)
        return min(wake_at, default=None)

    def _trigger_next_eta(self, cron):
        """Wake up when the next job waiting for its ETA becomes ready."""
        eta = claim.next_eta(self.env.cr)
        if eta and not self.env["ir.cron.trigger"].sudo().search_count(
            [("cron_id", "=", cron.id), ("call_at", "=", eta)]
        ):
            cron._trigger(eta)
            self.env.cr.commit()  # pylint: disable=invalid-commit

    def _run_job(self, claimed):
        """Run one claimed job like queue_job's ``/queue_job/runjob`` route.

        The claim committed the job ``started`` with its lock row, which is
        what ``RunJobController._acquire_job`` commits before it takes the
        job's lock: this takes that lock (``Job.lock()``, held by this
        transaction until the job's result is committed), then runs the job
        with ``_runjob``. Returns the stats key of its outcome, or None if it
        was not run.
        """
        env = self.env(user=SUPERUSER_ID)
        try:
            job = Job.load(env, claimed.uuid)
            locked = job.lock()
        except OperationalError as error:
            env.cr.rollback()
            if error.pgcode not in PG_CONCURRENCY_ERRORS_TO_RETRY:
                raise
            # someone else touched the job meanwhile: give it back
            env.cr.execute(
                "UPDATE queue_job SET state = 'pending', date_enqueued = NULL, "
                "date_started = NULL, worker_pid = NULL "
                "WHERE id = %s AND state = 'started' AND worker_pid = %s",
                (claimed.id, os.getpid()),
            )
            env.cr.commit()  # pylint: disable=invalid-commit
            return None
        except Exception as error:
            env.cr.rollback()
            self._fail_unloadable(claimed, error)
            return "failed_count"
        if not locked:
            # requeued meanwhile as dead (this runner took longer than
            # claim.LOCK_SETTLE to lock it): whoever requeued it owns it
            _logger.warning("Job %s could not be locked: not run", claimed.uuid)
            env.cr.rollback()
            return None
        try:
            RunJobController._runjob(env, job)
        except Exception:
            # _runjob has logged the traceback and committed the failure
            # (with on_fail) on a cursor of its own.
            env.cr.rollback()
            return "failed_count"
        # Commits what _runjob leaves to its caller: the dependent jobs it
        # enqueued (and, under --test-enable, the job's own result).
        env.cr.commit()  # pylint: disable=invalid-commit
        return "done_count" if job.state == "done" else "retried_count"

    def _fail_unloadable(self, claimed, error):
        """A job that cannot even be loaded (its model, method or records
        are gone) fails with a readable message; the queue goes on."""
        message = (
            f"This job cannot be loaded, so it was not run: "
            f"{type(error).__name__}: {error}"
        )
        _logger.error("Job %s: %s", claimed.uuid, message)
        if claim.fail_job(
            self.env.cr,
            claimed.id,
            f"{type(error).__module__}.{type(error).__name__}",
            message,
            traceback.format_exc(),
        ):
            job = self.env["queue.job"].sudo().browse(claimed.id)
            try:
                with self.env.cr.savepoint():
                    job._message_post_on_failure()
            except Exception:
                _logger.exception("Could not post the failure of job %s", claimed.uuid)
        self.env.cr.commit()  # pylint: disable=invalid-commit
