# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Prometheus' text exposition format, version 0.0.4, for gauges.

Plain Python, no Odoo import (tested without Odoo). Every figure that
``/queue_job_sh/metrics`` exposes is a gauge: each is read from the
database at the time of the scrape, and the tables it is computed from
lose rows (jobs deleted by queue_job's autovacuum or by hand, runner passes
deleted after 7 days), so none of them only goes up as a counter must
(docs/monitoring.md).

The format: a ``# HELP`` and a ``# TYPE`` line per metric family, then
its samples, all in one uninterrupted group; a sample is ``name{label="value",...}
value``; label values escape the backslash, the double quote and the line
feed, help texts the backslash and the line feed; values are Go floats
(``NaN``, ``+Inf``, ``-Inf``); every line ends with a line feed.
"""

import math
import re

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


def escape_help(text):
    """A HELP text: backslash and line feed escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def escape_label_value(value):
    """A label value, to be put between double quotes."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value):
    """A sample value: ``None`` (no figure, e.g. a latency without jobs)
    is ``NaN``; booleans are 1 and 0."""
    if value is None:
        return "NaN"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _check_label_name(name):
    if not _LABEL_NAME.match(name) or name.startswith("__"):
        raise ValueError(f"invalid label name: {name!r}")


def gauge(name, help_text, samples):
    """The lines of one gauge family. ``samples``: ``(labels, value)``
    pairs, ``labels`` a dict of label names to values (str); no two samples
    may have the same labels."""
    if not _METRIC_NAME.match(name):
        raise ValueError(f"invalid metric name: {name!r}")
    lines = [f"# HELP {name} {escape_help(help_text)}\n", f"# TYPE {name} gauge\n"]
    seen = set()
    for labels, value in samples:
        key = tuple(sorted(labels.items()))
        if key in seen:
            raise ValueError(f"two samples of {name} with the labels {labels!r}")
        seen.add(key)
        pairs = []
        for label, label_value in labels.items():
            _check_label_name(label)
            pairs.append(f'{label}="{escape_label_value(str(label_value))}"')
        labels_text = "{" + ",".join(pairs) + "}" if pairs else ""
        lines.append(f"{name}{labels_text} {format_value(value)}\n")
    return "".join(lines)


def exposition(gauges):
    """The text of a scrape: ``gauges`` are ``(name, help_text, samples)``
    triples (see :func:`gauge`), whose names must differ."""
    names = set()
    parts = []
    for name, help_text, samples in gauges:
        if name in names:
            raise ValueError(f"metric family given twice: {name}")
        names.add(name)
        parts.append(gauge(name, help_text, samples))
    return "".join(parts)
