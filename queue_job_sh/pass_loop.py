# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The loop of a runner pass, as a plain object (no Odoo import).

A pass claims and runs jobs until none may start or its time is up. Every
decision it takes is here, on an injected clock: when to look for dead
jobs, when to read the configuration again, when to wake the other runners,
whether an idle pass waits and until when, when it ends and why. What it
does is injected as :class:`Steps`, each one transaction (or a wait),
assembled by the runner model (``models/queue_job_sh_runner.py``). The
decisions are tested with a fake clock, without Odoo or a database
(``tests/engine/test_pass_loop.py``).
"""

import collections
import dataclasses
from collections.abc import Callable

from .transactions import ConnectionLost

# How often a busy pass looks for dead jobs (seconds). In one of Odoo's cron
# loops a pass that has run jobs also ends then and triggers its cron, which
# the loop takes again at once, after any other scheduled action that fell
# due meanwhile. Odoo keeps the transaction that locks the cron record open
# for the whole pass, and PostgreSQL cannot prune what other transactions
# updated while a snapshot that old is open: every claim's index scans
# would wade through the old versions of every job run since the pass
# began (docs/bench.md). A new pass starts from a new cron transaction.
HOUSEKEEPING_INTERVAL = 5
# How long a pass in one of Odoo's cron loops that finds the queue empty
# waits for a new job before it ends (seconds). Starting a pass costs tens
# of milliseconds (the cron NOTIFY, the cron worker's look for due scheduled
# actions, its progress record, the server action, the pass's own record),
# and jobs come in bursts: a job enqueued meanwhile starts within
# milliseconds of its commit, woken by queue_job's NOTIFY. Other scheduled
# actions wait at most this long for the cron worker.
IDLE_WAIT = 2
# An idle pass that is not lingering waits for a job whose ETA, or a dead
# job whose recovery, is this close (seconds): Odoo wakes crons for future
# triggers only once a minute.
NEAR_ETA = 10
# How long a pass keeps the channel configuration (and the registry it
# checked, and whether a module operation waits) before reading them again
# (seconds).
CONFIG_REFRESH = 1
# Seconds between two progress reports to Odoo's cron: often enough for the
# Scheduled Actions screen, not at every job (a report is a write and a
# commit, as costly as a short job).
PROGRESS_INTERVAL = 5
# Seconds between two wake-ups of the idle sibling runners while jobs are
# left over.
SIBLINGS_WAKE_INTERVAL = 1

# Why a pass ended
QUEUE_EMPTY = "queue_empty"
BUDGET = "budget"
YIELDED = "yielded"
CONNECTION_LOST = "connection_lost"
MODULE_OPERATION = "module_operation"


@dataclasses.dataclass
class Steps:
    """What a pass does; each one is a transaction of its own unless said.

    - ``refresh()``: read the configuration (channels, registry) again;
      True when a module operation waits for the runners to step aside
      (``module_operations.py``);
    - ``claim()``: start a job, a ``claim.Claim``; None when it kept
      losing races with other runners;
    - ``run(job)``: run a claimed job; its outcome (``done``, ``failed``
      or ``retried``) or None when it was not run;
    - ``recover()``: requeue the jobs of dead runners; how many;
    - ``moments_ahead()``: in how many seconds something becomes possible
      without anyone committing (an ETA, a recovery), soonest first;
    - ``ready_left()``: whether a job may start now;
    - ``wake_siblings()``: trigger the idle runners;
    - ``trigger(seconds)``: trigger this pass's runner cron, now (None) or
      in ``seconds``;
    - ``progress(done)``: tell Odoo's cron how many jobs ran so far;
    - ``wait(seconds)``: wait that long at most for a job to be enqueued
      or changed (not a transaction);
    - ``reconnect(deadline)``: after the connection was lost, wait for the
      database until ``deadline`` and connect again; False when it did not
      come back in time.

    Any step raises ``transactions.ConnectionLost`` when the connection is
    gone.
    """

    refresh: Callable
    claim: Callable
    run: Callable
    recover: Callable
    moments_ahead: Callable
    ready_left: Callable
    wake_siblings: Callable
    trigger: Callable
    progress: Callable
    wait: Callable
    reconnect: Callable

    @classmethod
    def of(cls, actor):
        """The steps of ``actor``, an object with a method of each name."""
        return cls(
            **{step.name: getattr(actor, step.name) for step in dataclasses.fields(cls)}
        )


class PassLoop:
    """One pass: :meth:`run` claims and runs jobs until it ends.

    :param steps: :class:`Steps`
    :param clock: the time, in seconds (``time.time``)
    :param deadline: when the pass starts no new job (``budget.py``)
    :param in_cron_loop: the pass runs in one of Odoo's cron loops, which
        takes its cron again as soon as the pass ends (``context.py``)
    :param lingers: an idle pass waits for jobs until its deadline
        (``context.py``)
    """

    def __init__(self, steps, clock, deadline, in_cron_loop, lingers):
        self.steps = steps
        self.clock = clock
        self.deadline = deadline
        self.in_cron_loop = in_cron_loop
        self.lingers = lingers
        self.outcomes = collections.Counter()
        self.recovered = 0
        self.connections_lost = 0

    @property
    def ran(self):
        """Jobs run so far, whatever their outcome."""
        return sum(self.outcomes.values())

    def run(self):
        """Claim and run jobs until the pass ends; returns why it ended."""
        now = self.clock()
        self._housekeeping_at = now + HOUSEKEEPING_INTERVAL
        self._refresh_at = now
        self._progress_at = now
        self._siblings_woken_at = None
        # when an idle pass in a cron loop ends, unless a job comes first
        self._idle_until = None
        while True:
            try:
                reason = self._turn()
            except ConnectionLost:
                self.connections_lost += 1
                if not self.steps.reconnect(self.deadline):
                    return CONNECTION_LOST
                continue
            if reason:
                return reason

    def _turn(self):
        """One turn of the loop: why the pass ends, or None to go on."""
        now = self.clock()
        if now >= self.deadline:
            # even in a pass left with no time: dead jobs hold capacity, and
            # nothing else gives them back
            self.recovered += self.steps.recover()
            if self.steps.ready_left():
                # a fresh pass right after this one, on any worker
                self.steps.trigger(None)
            return BUDGET
        if now >= self._housekeeping_at:
            self._housekeeping_at = now + HOUSEKEEPING_INTERVAL
            self.recovered += self.steps.recover()
            if self.in_cron_loop and self.ran:
                # a new pass, in a new cron transaction (HOUSEKEEPING_INTERVAL);
                # the trigger's NOTIFY wakes the loop as soon as this one ends
                self.steps.trigger(None)
                return YIELDED
        if now >= self._refresh_at:
            self._refresh_at = now + CONFIG_REFRESH
            if self.steps.refresh():
                # no new pass either: the module operation wakes the runners
                # when it is done
                return MODULE_OPERATION
        claimed = self.steps.claim()
        if claimed is None:  # it kept losing races: claim again
            return None
        if claimed.job is None:
            return self._idle(now)
        self._idle_until = None
        if claimed.more and (
            self._siblings_woken_at is None
            or now - self._siblings_woken_at >= SIBLINGS_WAKE_INTERVAL
        ):
            self._siblings_woken_at = now
            self.steps.wake_siblings()
        outcome = self.steps.run(claimed.job)
        if outcome:
            self.outcomes[outcome] += 1
        if now - self._progress_at >= PROGRESS_INTERVAL:
            self._progress_at = now
            self.steps.progress(self.ran)
        return None

    def _idle(self, now):
        """Nothing may start: recover dead jobs, wait, or end the pass."""
        recovered = self.steps.recover()
        if recovered:
            self.recovered += recovered
            return None
        if self._idle_until is None and self.in_cron_loop:
            self._idle_until = now + IDLE_WAIT
        moments = self.steps.moments_ahead()
        wake_at = self.wake_at(now, moments)
        if wake_at is None:
            if moments:
                # Odoo's cron workers wake this cron then
                self.steps.trigger(moments[0])
            return QUEUE_EMPTY
        self.steps.wait(min(wake_at, self._housekeeping_at) - now)
        return None

    def wake_at(self, now, moments):
        """Until when an idle pass waits for work, or None to end it now.

        A lingering pass waits until its deadline. Any other pass waits
        until the end of its idle wait (:data:`IDLE_WAIT`, in a cron loop
        only), and for what comes within :data:`NEAR_ETA` seconds. It wakes
        at the first of those moments (``moments``: seconds from now,
        soonest first), or as soon as a job is enqueued, and looks again.
        """
        soonest = now + moments[0] if moments else None
        if self.lingers:
            return self.deadline if soonest is None else min(self.deadline, soonest)
        wake_at = []
        if self._idle_until is not None and self._idle_until > now:
            wake_at.append(min(self._idle_until, self.deadline))
        if (
            soonest is not None
            and soonest - now <= NEAR_ETA
            and soonest < self.deadline
        ):
            wake_at.append(soonest)
        return min(wake_at, default=None)
