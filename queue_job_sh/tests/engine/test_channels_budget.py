# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The channel tree and the time budget: pure functions."""

import pytest
from conftest import budget, claim

Config = claim.ChannelConfig


def names(chain):
    return [(config.name, config.capacity, config.sequential) for config in chain]


def test_chain_of_configured_and_implicit_channels():
    channels = claim.Channels(
        [Config("root"), Config("root.edi", capacity=3, capacity_default=1)], 4
    )
    assert names(channels.chain(None)) == [("root", 4, False)]
    assert names(channels.chain("edi")) == [("root", 4, False), ("root.edi", 3, False)]
    # unconfigured direct subchannel: the parent's capacity_default
    assert names(channels.chain("root.edi.in.x")) == [
        ("root", 4, False),
        ("root.edi", 3, False),
        ("root.edi.in", 1, False),
        ("root.edi.in.x", None, False),
    ]


def test_sequential_default_and_validation():
    channels = claim.Channels(
        [Config("root.seq", capacity=1, capacity_default=1, sequential_default=True)],
        2,
    )
    assert names(channels.chain("root.seq.a"))[-1] == ("root.seq.a", 1, True)
    with pytest.raises(ValueError, match="sequential channel must have a capacity"):
        claim.Channels([Config("root.s", capacity=2, sequential=True)], 2)


def test_root_capacity_zero_pauses_everything():
    channels = claim.Channels([Config("root", capacity=5)], 0)
    assert channels.root_capacity == 0
    assert channels.chain("root.a")[0].paused
    assert claim.Channels([Config("root", paused=True)], 3).root_capacity == 0


@pytest.mark.parametrize(
    "cron, real, prefork, expected",
    [
        (-1, 120, True, 120),  # prefork default: limit_time_real
        (0, 120, True, None),  # prefork: 0 disables the watchdog
        (300, 120, True, 300),
        (-1, 120, False, 120),  # threaded: only a positive cron limit counts
        (0, 120, False, 120),
        (0, 0, False, None),  # Odoo.sh's cron worker
        (600, 0, False, 600),
    ],
)
def test_kill_limit(cron, real, prefork, expected):
    assert budget.kill_limit(cron, real, prefork) == expected


def test_deadline_threaded_counts_from_the_thread_start():
    # 120 s limit, 24 s kept as margin; the pass started 30 s after the clock
    deadline = budget.pass_deadline(1030, limit=120, prefork=False, pass_started=1000)
    assert deadline == 1096


def test_deadline_prefork_assumes_the_worst_sleep_when_unknown():
    assert budget.pass_deadline(1000, limit=120, prefork=True) == 1026
    # a short limit still leaves a quarter of the usable time
    assert budget.pass_deadline(1000, limit=60, prefork=True) == 1012
    # the watchdog's ping time, when known, is exact
    assert budget.pass_deadline(1000, limit=120, prefork=True, pass_started=990) == 1086


def test_deadline_of_a_run_once_process_counts_from_its_start():
    """Odoo.sh's cron process found both runner crons due: the first pass
    lingers until 1.5 periods of the process's life, the second one, right
    after it, has no time left: the process never lingers 3 periods and is
    never killed by the platform."""
    first = budget.pass_deadline(
        1002, limit=None, prefork=False, pass_seconds=45, process_started=1000
    )
    assert first == 1045
    second = budget.pass_deadline(
        first, limit=None, prefork=False, pass_seconds=45, process_started=1000
    )
    assert second <= first
    assert (
        budget.pass_deadline(1002, limit=None, prefork=False, process_started=1000)
        == 1450
    )
    # a kill limit is Odoo's own clock: the process's start does not matter
    assert (
        budget.pass_deadline(
            1002, limit=120, prefork=False, pass_started=1001, process_started=900
        )
        == 1097
    )


def test_deadline_without_limit_and_with_cap():
    assert budget.pass_deadline(1000, limit=None, prefork=False) == 1450
    assert (
        budget.pass_deadline(1000, limit=None, prefork=False, pass_seconds=60) == 1060
    )
    assert (
        budget.pass_deadline(1000, limit=120, prefork=False, pass_seconds=500) == 1096
    )
