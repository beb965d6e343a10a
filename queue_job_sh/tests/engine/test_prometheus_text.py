# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Prometheus' text exposition format (0.0.4): what ``prometheus_text``
writes is read back unchanged by the reference parser,
``prometheus_client.parser.text_string_to_metric_families``."""

import math
from decimal import Decimal

import pytest
from conftest import _load
from prometheus_client.parser import text_string_to_metric_families

prometheus_text = _load("prometheus_text")

# label values and help texts a channel name or a message could hold
AWKWARD = [
    "root",
    'a "quoted" channel',
    "back\\slash",
    "two\nlines",
    "trailing backslash\\",
    '\\"',
    "\\n is not a line feed",
    "é ü 日本 ☃",
    "comma, equals= {braces}",
    "",
]


def parse(text):
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_exact_text():
    text = prometheus_text.exposition(
        [
            (
                "queue_job_channel_ready",
                "Pending jobs that may start now.",
                [({"db": "prod", "channel": "root"}, 3)],
            ),
            ("queue_job_sh_up", "1 if jobs flow.", [({}, True)]),
        ]
    )
    assert text == (
        "# HELP queue_job_channel_ready Pending jobs that may start now.\n"
        "# TYPE queue_job_channel_ready gauge\n"
        'queue_job_channel_ready{db="prod",channel="root"} 3\n'
        "# HELP queue_job_sh_up 1 if jobs flow.\n"
        "# TYPE queue_job_sh_up gauge\n"
        "queue_job_sh_up 1\n"
    )
    assert prometheus_text.CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


@pytest.mark.parametrize("value", AWKWARD)
def test_label_values_read_back_unchanged(value):
    text = prometheus_text.exposition(
        [("m", "help", [({"channel": value, "db": value}, 1)])]
    )
    (sample,) = parse(text)["m"].samples
    assert sample.labels == {"channel": value, "db": value}
    assert sample.value == 1
    # one line per sample: a line feed in a value is escaped
    assert text.count("\n") == 3


def test_escaping_rules():
    assert prometheus_text.escape_label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'
    # a help text keeps its double quotes
    assert prometheus_text.escape_help('a\\b"c\nd') == 'a\\\\b"c\\nd'


@pytest.mark.parametrize("help_text", AWKWARD)
def test_help_read_back_unchanged(help_text):
    text = prometheus_text.exposition([("m", help_text, [({}, 0)])])
    assert parse(text)["m"].documentation == help_text


@pytest.mark.parametrize(
    "value, text, read_back",
    [
        (0, "0", 0.0),
        (42, "42", 42.0),
        (10**15, "1000000000000000", 1e15),
        (True, "1", 1.0),
        (False, "0", 0.0),
        (1.5, "1.5", 1.5),
        (-0.25, "-0.25", -0.25),
        (1e-7, "1e-07", 1e-7),
        (Decimal("12.345"), "12.345", 12.345),
        (float("inf"), "+Inf", math.inf),
        (float("-inf"), "-Inf", -math.inf),
    ],
)
def test_values(value, text, read_back):
    assert prometheus_text.format_value(value) == text
    exposition = prometheus_text.exposition([("m", "h", [({}, value)])])
    (sample,) = parse(exposition)["m"].samples
    assert sample.value == read_back


@pytest.mark.parametrize("value", [None, float("nan")])
def test_no_figure_is_nan(value):
    assert prometheus_text.format_value(value) == "NaN"
    exposition = prometheus_text.exposition([("m", "h", [({}, value)])])
    (sample,) = parse(exposition)["m"].samples
    assert math.isnan(sample.value)


def test_families_are_gauges_in_uninterrupted_groups():
    channels = ["root", "root.a", "root.b"]
    text = prometheus_text.exposition(
        [
            (
                name,
                f"{name} help",
                [({"channel": c}, i) for i, c in enumerate(channels)],
            )
            for name in ("queue_job_a", "queue_job_b")
        ]
        + [("queue_job_empty", "no sample", [])]
    )
    families = parse(text)
    assert sorted(families) == ["queue_job_a", "queue_job_b", "queue_job_empty"]
    for name in ("queue_job_a", "queue_job_b"):
        family = families[name]
        assert family.type == "gauge"
        assert [(s.name, s.labels["channel"], s.value) for s in family.samples] == [
            (name, c, float(i)) for i, c in enumerate(channels)
        ]
    assert families["queue_job_empty"].samples == []
    lines = text.splitlines()
    # HELP and TYPE first, then the family's samples, one family after another
    assert lines[:2] == [
        "# HELP queue_job_a queue_job_a help",
        "# TYPE queue_job_a gauge",
    ]
    assert all(line.startswith("queue_job_a{") for line in lines[2:5])
    assert lines[5] == "# HELP queue_job_b queue_job_b help"
    assert text.endswith("\n")


@pytest.mark.parametrize(
    "name, labels",
    [
        ("queue-job", {}),
        ("1queue_job", {}),
        ("queue job", {}),
        ("", {}),
        ("m", {"channel-name": "x"}),
        ("m", {"1channel": "x"}),
        ("m", {"__name__": "x"}),
        ("m", {"": "x"}),
    ],
)
def test_invalid_names_are_refused(name, labels):
    with pytest.raises(ValueError):
        prometheus_text.gauge(name, "help", [(labels, 1)])


def test_duplicates_are_refused():
    with pytest.raises(ValueError, match="two samples"):
        prometheus_text.gauge(
            "m", "h", [({"a": "1", "b": "2"}, 1), ({"b": "2", "a": "1"}, 2)]
        )
    with pytest.raises(ValueError, match="given twice"):
        prometheus_text.exposition([("m", "h", []), ("m", "h", [])])
