# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Every decision of a pass's loop, on a fake clock: no Odoo, no database,
no sleeping. The world a pass sees is scripted: jobs that arrive at given
moments and take given times, dead jobs, ETAs."""

import pytest
from conftest import claim, pass_loop, transactions

Loop = pass_loop.PassLoop
IDLE_WAIT = pass_loop.IDLE_WAIT
HOUSEKEEPING = pass_loop.HOUSEKEEPING_INTERVAL


class World:
    """A fake clock and the steps of a pass acting on a scripted queue.

    ``arrivals``: (moment, job seconds) of the jobs enqueued; ``etas``:
    moments at which a job becomes ready without a NOTIFY (an ETA, a
    recovery); ``dead``: moments at which a dead job becomes recoverable;
    ``lost_at``: moments the connection is lost, ``back_at`` the moment the
    database answers again; ``operation_at``: when a module operation asks
    the runners to step aside.
    """

    def __init__(
        self,
        arrivals=(),
        etas=(),
        dead=(),
        lost_at=(),
        back_at=None,
        operation_at=None,
    ):
        self.now = 0.0
        self.arrivals = sorted(arrivals)
        self.etas = sorted(etas)
        self.dead = sorted(dead)
        self.lost_at = list(lost_at)
        self.back_at = back_at
        self.operation_at = operation_at
        self.calls = []  # (moment, step, argument)
        self.ran = []  # moments at which jobs started

    def clock(self):
        return self.now

    def log(self, step, argument=None):
        self.calls.append((self.now, step, argument))

    def at(self, step):
        """The moments of the calls of ``step``."""
        return [moment for moment, name, _a in self.calls if name == step]

    def args(self, step):
        return [argument for _m, name, argument in self.calls if name == step]

    def _ready(self):
        return [a for a in self.arrivals if a[0] <= self.now] + [
            (eta, 0.0) for eta in self.etas if eta <= self.now
        ]

    def _check_connection(self):
        if self.lost_at and self.now >= self.lost_at[0]:
            self.lost_at.pop(0)
            raise transactions.ConnectionLost("server closed the connection")

    # the steps
    def refresh(self):
        self.log("refresh")
        return self.operation_at is not None and self.now >= self.operation_at

    def claim(self):
        self._check_connection()
        ready = self._ready()
        if not ready:
            return claim.Claim(None, False)
        job = ready[0]
        if job in self.arrivals:
            self.arrivals.remove(job)
        else:
            self.etas.remove(job[0])
        return claim.Claim(job, len(ready) > 1)

    def run(self, job):
        self.ran.append(self.now)
        self.now += job[1]
        return "done"

    def recover(self):
        self.log("recover")
        recovered = [moment for moment in self.dead if moment <= self.now]
        self.dead = [moment for moment in self.dead if moment > self.now]
        self.arrivals += [(self.now, 0.0)] * len(recovered)
        return len(recovered)

    def moments_ahead(self):
        upcoming = [m for m in self.etas + self.dead if m > self.now]
        return sorted(moment - self.now for moment in upcoming)

    def ready_left(self):
        return bool(self._ready())

    def wake_siblings(self):
        self.log("wake_siblings")

    def trigger(self, seconds):
        self.log("trigger", seconds)

    def progress(self, done):
        self.log("progress", done)

    def wait(self, seconds):
        """Until ``seconds`` pass or a job is enqueued (its NOTIFY)."""
        self.log("wait", seconds)
        arrivals = [m for m, _s in self.arrivals if self.now < m <= self.now + seconds]
        self.now = min(arrivals) if arrivals else self.now + seconds

    def reconnect(self, deadline):
        self.log("reconnect")
        if self.back_at is None or self.back_at > deadline:
            self.now = max(self.now, deadline)
            return False
        self.now = max(self.now, self.back_at)
        return True

    def loop(self, deadline=450.0, in_cron_loop=False, lingers=False):
        steps = pass_loop.Steps.of(self)
        return Loop(steps, self.clock, deadline, in_cron_loop, lingers)


def test_an_empty_queue_ends_a_pass_at_once_outside_cron_loops():
    world = World()
    assert world.loop().run() == pass_loop.QUEUE_EMPTY
    assert world.now == 0 and not world.at("wait")
    assert world.at("recover") == [0]  # dead jobs looked for first


def test_an_idle_pass_in_a_cron_loop_waits_for_the_next_job():
    world = World(arrivals=[(0, 1.0), (1.5, 1.0)])
    loop = world.loop(in_cron_loop=True)
    assert loop.run() == pass_loop.QUEUE_EMPTY
    # the second job, enqueued 0.5 s after the first was done, is its own
    assert world.ran == [0, 1.5] and loop.ran == 2
    # then it waited IDLE_WAIT after the queue emptied, and ended
    assert world.now == 2.5 + IDLE_WAIT


def test_an_idle_cron_loop_pass_ends_after_its_wait():
    world = World(arrivals=[(IDLE_WAIT + 0.1, 0.0)])
    assert world.loop(in_cron_loop=True).run() == pass_loop.QUEUE_EMPTY
    assert world.now == IDLE_WAIT and world.ran == []


def test_a_busy_pass_in_a_cron_loop_yields_to_a_new_pass():
    world = World(arrivals=[(0, 0.4)] * 30)
    loop = world.loop(in_cron_loop=True)
    assert loop.run() == pass_loop.YIELDED
    assert world.args("trigger") == [None]  # its cron, at once
    assert 12 <= loop.ran <= 13 and world.now == pytest.approx(5.2)


def test_a_busy_pass_elsewhere_goes_on_and_recovers_every_few_seconds():
    world = World(arrivals=[(0, 0.5)] * 30, dead=[3])
    loop = world.loop()
    assert loop.run() == pass_loop.QUEUE_EMPTY
    assert loop.ran == 31 and loop.recovered == 1
    # every HOUSEKEEPING seconds while busy, and when the queue emptied
    assert world.at("recover") == [5.0, 10.0, 15.0, 15.0]


def test_a_lingering_pass_waits_until_its_deadline():
    world = World(arrivals=[(30, 1.0), (200, 1.0)])
    loop = world.loop(deadline=300, lingers=True)
    assert loop.run() == pass_loop.BUDGET
    assert world.ran == [30, 200]
    # woken by the jobs' NOTIFY, else every HOUSEKEEPING seconds to recover
    assert world.now == 300
    waits = world.args("wait")
    assert max(waits) <= HOUSEKEEPING
    assert len(world.at("recover")) >= 300 / HOUSEKEEPING


def test_an_eta_within_reach_is_waited_for_further_ones_are_triggered():
    near = World(etas=[3])
    assert near.loop().run() == pass_loop.QUEUE_EMPTY
    assert near.ran == [3]
    far = World(etas=[30])
    assert far.loop().run() == pass_loop.QUEUE_EMPTY
    assert far.ran == [] and far.now == 0
    assert far.args("trigger") == [30]  # Odoo's cron workers wake it then


def test_an_eta_past_the_deadline_is_not_waited_for():
    world = World(etas=[8])
    assert world.loop(deadline=5).run() == pass_loop.QUEUE_EMPTY
    assert world.ran == [] and world.args("trigger") == [8]


def test_a_dead_job_is_run_as_soon_as_it_is_recoverable():
    world = World(dead=[4])
    loop = world.loop()
    assert loop.run() == pass_loop.QUEUE_EMPTY
    assert world.ran == [4] and loop.recovered == 1


def test_the_deadline_stops_a_busy_pass():
    world = World(arrivals=[(0, 1.0)] * 20)
    loop = world.loop(deadline=10)
    assert loop.run() == pass_loop.BUDGET
    assert loop.ran == 10 and world.now == 10
    # dead jobs looked for one last time; a new pass for the jobs left
    assert world.at("recover")[-1] == 10
    assert world.args("trigger") == [None]


def test_the_deadline_ends_a_lingering_idle_pass_without_a_new_pass():
    world = World()
    assert world.loop(deadline=7, lingers=True).run() == pass_loop.BUDGET
    assert world.now == 7 and world.args("trigger") == []


def test_progress_refresh_and_siblings_have_their_own_pace():
    world = World(arrivals=[(0, 0.125)] * 120)
    loop = world.loop()
    assert loop.run() == pass_loop.QUEUE_EMPTY
    assert world.args("progress") == [41, 81]  # every PROGRESS_INTERVAL
    for step, count in (("progress", 2), ("refresh", 16), ("wake_siblings", 15)):
        moments = world.at(step)
        assert len(moments) == count, step
        assert all(b - a >= 1 for a, b in zip(moments, moments[1:], strict=False))


def test_a_lost_connection_is_waited_for_then_the_pass_goes_on():
    world = World(arrivals=[(0, 1.0)] * 4, lost_at=[1.0], back_at=3.0)
    loop = world.loop()
    assert loop.run() == pass_loop.QUEUE_EMPTY
    assert loop.ran == 4 and loop.connections_lost == 1
    assert world.ran == [0, 3.0, 4.0, 5.0]


def test_a_database_that_does_not_come_back_ends_the_pass():
    world = World(arrivals=[(0, 1.0)] * 4, lost_at=[1.0])
    assert world.loop(deadline=60).run() == pass_loop.CONNECTION_LOST
    assert world.now == 60


def test_a_module_operation_ends_the_pass_without_a_new_one():
    """A lingering pass steps aside within a second (CONFIG_REFRESH) of the
    request, between two jobs, and triggers no new pass."""
    world = World(arrivals=[(0, 0.3)] * 20, operation_at=2.5)
    loop = world.loop(deadline=300, lingers=True)
    assert loop.run() == pass_loop.MODULE_OPERATION
    assert 2.5 <= world.now <= 2.5 + pass_loop.CONFIG_REFRESH + 0.3
    assert world.args("trigger") == []
