# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Two real servers with two cron threads each share small channels, set
by the channels option or kept in ``queue.job.channel`` records (with a
queue_job that keeps none there, records of the same names beside the
option): the jobs' own timestamps show no channel ever above its capacity,
and capacity reached."""

import sys

import pytest
from conftest import REPO, OdooServer, odoo_shell, sql, wait_until

sys.path.insert(0, str(REPO / "dev"))
from intervals import peak_overlap  # noqa: E402

CHANNELS = "root:4,root.a:1,root.b:2,root.s:1:sequential"
CAPACITY = {"root": 4, "root.a": 1, "root.b": 2, "root.s": 1}
JOBS = {"root.a": 6, "root.b": 10, "root.s": 6, "root.c": 10}
# the same channels, as queue.job.channel records
RECORDS = """
Channel = env["queue.job.channel"]
root = env.ref("queue_job.channel_root")
root.capacity = 4
for name, capacity, sequential in (("a", 1, False), ("b", 2, False), ("s", 1, True)):
    Channel.create({"name": name, "parent_id": root.id, "capacity": capacity,
                    "sequential": sequential})
env.cr.commit()
"""
# the same channels as records that hold no settings (a queue_job that
# keeps them in the channels option only)
NAMED_RECORDS = """
root = env.ref("queue_job.channel_root")
for name in ("a", "b", "s"):
    env["queue.job.channel"].create({"name": name, "parent_id": root.id})
env.cr.commit()
"""


def channel_settings_in_records(db):
    return sql(
        db,
        "SELECT 1 FROM information_schema.columns "
        "WHERE table_name = 'queue_job_channel' AND column_name = 'capacity'",
    )


@pytest.mark.parametrize("source", ["option", "records"])
def test_two_servers_respect_and_reach_capacities(db, servers, source):
    if source == "option":
        env = {"ODOO_QUEUE_JOB_CHANNELS": CHANNELS}
    elif not channel_settings_in_records(db):
        # the records hold nothing: the option alone sets the capacities
        env = {"ODOO_QUEUE_JOB_CHANNELS": CHANNELS}
        odoo_shell(db, NAMED_RECORDS, env=env)
    else:
        # the root capacity is bounded by max_capacity (1 unless set)
        env = {"ODOO_QUEUE_JOB_MAX_CAPACITY": "8"}
        odoo_shell(db, RECORDS, env=env)
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
        name: peak_overlap(
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
