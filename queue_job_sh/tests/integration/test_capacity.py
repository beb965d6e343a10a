# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Two real servers with two cron threads each share small channels: the
jobs' own timestamps show no channel ever above its capacity, and capacity
reached."""

from conftest import OdooServer, odoo_shell, sql, wait_until

CHANNELS = "root:4,root.a:1,root.b:2,root.s:1:sequential"
CAPACITY = {"root": 4, "root.a": 1, "root.b": 2, "root.s": 1}
JOBS = {"root.a": 6, "root.b": 10, "root.s": 6, "root.c": 10}


def peak(intervals):
    events = sorted([(s, 1) for s, _e in intervals] + [(e, -1) for _s, e in intervals])
    current = highest = 0
    for _moment, delta in events:
        current += delta
        highest = max(highest, current)
    return highest


def test_two_servers_respect_and_reach_capacities(db, servers):
    env = {"ODOO_QUEUE_JOB_CHANNELS": CHANNELS}
    script = "".join(
        f'env["test.queue.job.sh.probe"].enqueue({count}, prefix="{channel}", '
        f'duration=0.3, channel="{channel}")\n'
        for channel, count in JOBS.items()
    )
    # the two servers start first: jobs arrive while their runners are idle
    for name in ("one", "two"):
        servers.append(
            OdooServer(db, "--max-cron-threads=2", env=env, name=name).start()
        )
    odoo_shell(db, script + "env.cr.commit()\n", env=env)
    total = sum(JOBS.values())
    wait_until(
        lambda: sql(db, "SELECT count(*) FROM queue_job WHERE state = 'done'")[0][0]
        == total,
        timeout=120,
        message="all jobs done",
    )
    rows = sql(
        db,
        "SELECT key, channel, pid, started_at, ended_at FROM test_queue_job_sh_probe",
    )
    assert len(rows) == total == len({row[0] for row in rows})
    peaks = {
        name: peak(
            [
                (start, end)
                for _key, channel, _pid, start, end in rows
                if channel == name or channel.startswith(name + ".") or name == "root"
            ]
        )
        for name in CAPACITY
    }
    assert peaks == CAPACITY
    # the sequential channel ran its jobs one after the other, in order
    sequential = sorted(
        (start, int(key.rsplit("-", 1)[1]))
        for key, channel, _pid, start, _end in rows
        if channel == "root.s"
    )
    assert [number for _start, number in sequential] == list(range(JOBS["root.s"]))
    # both servers ran jobs
    assert len({row[2] for row in rows}) == 2
    for server in servers:
        assert not server.errors()
