# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The channel tree and the time budget: pure functions."""

import pytest
from conftest import budget, channels

Config = channels.ChannelConfig
Channels = channels.Channels


def names(chain):
    return [(config.name, config.capacity, config.sequential) for config in chain]


def test_names():
    assert channels.complete_name(None) == "root"
    assert channels.complete_name("mail") == "root.mail"
    assert channels.complete_name("root.mail") == "root.mail"
    assert channels.stored_names("root.mail") == ["root.mail", "mail"]
    assert channels.stored_names("root") == ["root"]


def test_from_option_and_from_records():
    configured = channels.from_option(
        [{"name": "root", "capacity": 4}, {"name": "root.a", "capacity": 1}]
    )
    assert configured.root_capacity == 4
    assert configured.capacity("root.a.b") == 1
    assert channels.from_option([]).root_capacity == 1  # queue_job's default
    rows = [
        ("root", 8, False, 0, False, 0, False),
        ("root.p", 0, False, 0, True, 0, False),
    ]
    configured = channels.from_records(rows, 3)  # db_max_capacity
    assert configured.root_capacity == 3
    assert configured.paused("root.p.x") and not configured.paused("root.q")


def test_chain_of_configured_and_implicit_channels():
    channels = Channels(
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
    channels = Channels(
        [Config("root.seq", capacity=1, capacity_default=1, sequential_default=True)],
        2,
    )
    assert names(channels.chain("root.seq.a"))[-1] == ("root.seq.a", 1, True)
    with pytest.raises(ValueError, match="sequential channel must have a capacity"):
        Channels([Config("root.s", capacity=2, sequential=True)], 2)


def test_root_capacity_zero_pauses_everything():
    channels = Channels([Config("root", capacity=5)], 0)
    assert channels.root_capacity == 0
    assert channels.chain("root.a")[0].paused
    assert Channels([Config("root", paused=True)], 3).root_capacity == 0


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


@pytest.mark.parametrize("limit", [None, 120, 600])
def test_a_run_once_process_has_one_budget_from_its_start(limit):
    """Odoo.sh's cron process found both runner crons due: the first pass
    lingers until 1.5 periods of the process's life, the second one, right
    after it, has no time left, whatever the kill limit: no Odoo clock runs
    in such a process, only the platform kills it."""
    first = budget.pass_deadline(
        1002, limit=limit, prefork=False, pass_seconds=45, process_started=1000
    )
    assert first == 1045
    second = budget.pass_deadline(
        first, limit=limit, prefork=False, pass_seconds=45, process_started=1000
    )
    assert second == first
    # without a cap: 450 s, or what the limit leaves (120 - 24 = 96)
    assert budget.pass_deadline(
        1002, limit=limit, prefork=False, process_started=1000
    ) == (1096 if limit == 120 else 1450)


def test_deadline_without_limit_and_with_cap():
    assert budget.pass_deadline(1000, limit=None, prefork=False) == 1450
    assert (
        budget.pass_deadline(1000, limit=None, prefork=False, pass_seconds=60) == 1060
    )
    assert (
        budget.pass_deadline(1000, limit=120, prefork=False, pass_seconds=500) == 1096
    )
