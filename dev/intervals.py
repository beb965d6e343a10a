# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Counting overlaps of (start, end) intervals: how many jobs ran at once,
for the tests and the benchmark."""


def peak_overlap(intervals):
    """Highest number of overlapping (start, end) intervals; an end sorts
    before a start at the same moment."""
    events = sorted(
        [(start, 1) for start, _end in intervals] + [(end, -1) for _s, end in intervals]
    )
    peak = current = 0
    for _moment, delta in events:
        current += delta
        peak = max(peak, current)
    return peak
