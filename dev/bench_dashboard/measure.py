# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Time the server calls the Runners screen makes, on the current database.

Run it in an Odoo shell: ``odoo shell -d DB ... < measure.py``. Prints the
median wall time of each call (5 runs, after one warm-up) and their sum.
"""

import statistics
import time

SPEC_CHANNELS = {
    name: {}
    for name in (
        "name capacity running ready waiting failed oldest_ready_age "
        "oldest_ready_seconds paused channel_paused editable"
    ).split()
}
SPEC_PASSES = {
    name: {}
    for name in (
        "started_at ended_at pid done_count failed_count retried_count "
        "recovered_count end_reason"
    ).split()
} | {"cron_id": {"fields": {"display_name": {}}}}

calls = {
    "get_dashboard_data": lambda: env["queue.job.sh.dashboard"].get_dashboard_data(),  # noqa: F821
    "channels list": lambda: env["queue.job.sh.channel.stat"].web_search_read(  # noqa: F821
        [], SPEC_CHANNELS, limit=80
    ),
    "throughput graph": lambda: env["queue.job.sh.minute.stat"].web_read_group(  # noqa: F821
        [("metric", "=", "done")], ["value:avg"], ["minute", "metric"], lazy=False
    ),
    "latency graph": lambda: env["queue.job.sh.minute.stat"].web_read_group(  # noqa: F821
        [("metric", "in", ["p50", "p95"])],
        ["value:avg"],
        ["minute", "metric"],
        lazy=False,
    ),
    "passes list": lambda: env["queue.job.sh.pass"].web_search_read(  # noqa: F821
        [], SPEC_PASSES, limit=10
    ),
}
env.cr.execute("SELECT count(*) FROM queue_job")  # noqa: F821
print("queue_job rows:", env.cr.fetchone()[0])  # noqa: F821
total = 0
for name, call in calls.items():
    times = []
    for _run in range(6):
        env.invalidate_all()  # noqa: F821
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    median = statistics.median(times[1:]) * 1000
    total += median
    print(f"{name:20} {median:8.1f} ms")
print(f"{'total':20} {total:8.1f} ms")
