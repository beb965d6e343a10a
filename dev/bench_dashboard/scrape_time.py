# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Time /queue_job_sh/health and /queue_job_sh/metrics against a running
server, as a monitor scrapes them.

``python3 scrape_time.py http://127.0.0.1:8069 TOKEN [RUNS]``: after one
warm-up request per endpoint (and per HTTP worker), sends RUNS requests
(default 20) to each, one at a time, each on a connection of its own, and
prints the status, the size of the answer and the median, p95 and maximum
wall time. The server's log (werkzeug lines) adds the queries and their time.
"""

import statistics
import sys
import time

import requests

PATHS = ("/queue_job_sh/health", "/queue_job_sh/metrics")


def scrape(base, path, token):
    start = time.perf_counter()
    response = requests.get(
        base + path,
        headers={"Authorization": f"Bearer {token}", "Connection": "close"},
        timeout=120,
    )
    return time.perf_counter() - start, response


def main(base, token, runs=20):
    for path in PATHS:
        for _warm_up in range(4):
            scrape(base, path, token)
        times = []
        for _run in range(runs):
            elapsed, response = scrape(base, path, token)
            times.append(elapsed * 1000)
        times.sort()
        p95 = times[max(0, round(0.95 * len(times)) - 1)]
        print(
            f"{path:22} {response.status_code} {len(response.content):6} bytes  "
            f"median {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms  "
            f"max {times[-1]:7.1f} ms  ({runs} runs)"
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(arg) for arg in sys.argv[3:]))
