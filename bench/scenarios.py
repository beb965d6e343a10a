# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The benchmark scenarios: one function per scenario and runner.

Each function gets a fresh database copied from the runner's template,
starts real ``odoo`` servers, enqueues probe jobs from the helper process
and returns a dict of measurements read back from PostgreSQL (probe rows
written in the jobs' own transactions, and queue_job's rows).
"""

import random
import time
from contextlib import ExitStack

from harness import (
    Probe,
    RssSampler,
    log,
    percentile,
    rounded,
    simulator,
)
from intervals import peak_overlap

# Seconds given to a freshly started server before measuring (cron
# workers start, runner crons do their first, empty, pass).
SETTLE = 3.0


def probe_job(key, duration=0.0, channel=None, max_retries=None):
    spec = {"key": key, "kwargs": {"duration": duration}}
    if channel:
        spec["channel"] = channel
        spec["kwargs"]["channel"] = channel
    if max_retries is not None:
        spec["max_retries"] = max_retries
    return spec


def open_scenario(stack, bench, runner, name, capacity, channels=None, **setup):
    """Fresh database, helper process set up for the runner."""
    db = bench.fresh_db(runner, name)
    if not bench.keep:
        stack.callback(bench.drop_db, db)
    channels = channels or f"root:{capacity}"
    helper = stack.enter_context(bench.helper(db, channels))
    helper.setup(runner, capacity, **setup)
    probe = stack.enter_context(Probe(bench, db))
    return db, helper, probe


def latencies_summary(latencies, prefix="latency"):
    return {
        f"{prefix}_p50_s": rounded(percentile(latencies, 50)),
        f"{prefix}_p95_s": rounded(percentile(latencies, 95)),
        f"{prefix}_max_s": rounded(max(latencies) if latencies else None),
    }


# ----------------------------------------------------------------------
# drain
# ----------------------------------------------------------------------
def drain(bench, runner, jobs=2000, duration=0.0, capacity=2, timeout=600):
    """N jobs enqueued in one transaction: time until the last is done."""
    name = "drain" if not duration else "drain_slow"
    with ExitStack() as stack:
        db, helper, probe = open_scenario(stack, bench, runner, name, capacity)
        if runner == "floor":
            stack.enter_context(bench.floor(db, capacity, f"root:{capacity}"))
        else:
            stack.enter_context(bench.server(runner, db, capacity=capacity))
        time.sleep(SETTLE)
        keys = [f"d-{number}" for number in range(jobs)]
        timings = helper.enqueue(
            [probe_job(key, duration) for key in keys], timings=True
        )
        t0 = timings["t"]
        finished = probe.wait_idle(timeout)
        rows = probe.rows("d-%")
        seconds = max(row[4] for row in rows) - t0 if rows else None
        return {
            "jobs": jobs,
            "job_s": duration,
            "capacity": capacity,
            "enqueue_s": rounded(timings["end"] - timings["began"], 2),
            "first_start_s": rounded(rows[0][3] - t0) if rows else None,
            "seconds": rounded(seconds, 2),
            "jobs_per_s": rounded(jobs / seconds, 1) if seconds else None,
            "timeout": not finished,
            **probe.integrity(keys),
        }


def drain_slow(bench, runner, jobs=200, duration=0.05, **kwargs):
    return drain(bench, runner, jobs=jobs, duration=duration, **kwargs)


# ----------------------------------------------------------------------
# latency
# ----------------------------------------------------------------------
def latency(bench, runner, jobs=20, gap=0.5, capacity=2, timeout=60):
    """Single jobs on an idle server: enqueue commit -> job starts."""
    name = "latency" if gap < 2 else "latency_cold"
    with ExitStack() as stack:
        db, helper, probe = open_scenario(stack, bench, runner, name, capacity)
        stack.enter_context(bench.server(runner, db, capacity=capacity))
        time.sleep(SETTLE + 2)
        latencies = []
        missed = 0
        for number in range(jobs):
            key = f"l-{number}"
            t0 = helper.enqueue([probe_job(key)])
            if probe.wait(lambda key=key: probe.rows(key), timeout, poll=0.02):
                latencies.append(probe.rows(key)[0][3] - t0)
                probe.wait_idle(10)
            else:
                missed += 1
            time.sleep(gap + random.uniform(0, gap))
        return {
            "jobs": jobs,
            **latencies_summary(latencies),
            "missed": missed,
            **probe.integrity([f"l-{number}" for number in range(jobs)]),
        }


def latency_cold(bench, runner, jobs=9, gap=3.0, **kwargs):
    """The same, 3 to 6 s apart: longer than a queue_job_sh pass waits for
    the next job (IDLE_WAIT), so that every job wakes a cron worker."""
    return latency(bench, runner, jobs=jobs, gap=gap, **kwargs)


# ----------------------------------------------------------------------
# channels
# ----------------------------------------------------------------------
CHANNELS = {"root.a": 2, "root.b": 1, "root.seq": 1}
CHANNELS_CONFIG = "root:3,root.a:2,root.b:1,root.seq:1:sequential"


def channels(bench, runner, per_channel=12, duration=0.3, timeout=180):
    """Channels with small capacities and a sequential one: peak
    concurrency per channel from the probe rows (never above capacity)."""
    capacity = 3
    counts = {"root.a": 2 * per_channel, "root.b": per_channel, "root.seq": per_channel}
    with ExitStack() as stack:
        db, helper, probe = open_scenario(
            stack, bench, runner, "channels", capacity, channels=CHANNELS_CONFIG
        )
        stack.enter_context(
            bench.server(runner, db, capacity=capacity, channels=CHANNELS_CONFIG)
        )
        time.sleep(SETTLE)
        # Enqueued channel after channel: a runner taking jobs in creation
        # order without looking at channels runs root.a's jobs 3 at a time.
        specs = [
            probe_job(f"c-{channel[5:]}-{number:03d}", duration, channel=channel)
            for channel, count in counts.items()
            for number in range(count)
        ]
        t0 = helper.enqueue(specs)
        finished = probe.wait_idle(timeout)
        rows = probe.rows("c-%")
        end = max((row[4] for row in rows), default=t0)
        makespan = end - t0
        result = {
            "jobs": len(specs),
            "job_s": duration,
            "makespan_s": rounded(makespan, 2),
            "ideal_s": rounded(
                max(
                    sum(counts.values()) * duration / capacity,
                    *(counts[c] * duration / CHANNELS[c] for c in counts),
                ),
                2,
            ),
            "timeout": not finished,
        }
        over = 0
        for channel, cap in [("root", capacity), *CHANNELS.items()]:
            mine = [r for r in rows if channel == "root" or r[1] == channel]
            peak = peak_overlap([(r[3], r[4]) for r in mine])
            busy = sum(r[4] - r[3] for r in mine)
            short = channel.replace("root.", "")
            result[f"peak_{short}"] = f"{peak}/{cap}"
            result[f"util_{short}"] = (
                rounded(busy / (cap * makespan), 2) if makespan > 0 else None
            )
            over += peak > cap
        result["over_capacity_channels"] = over
        seq = [r[0] for r in rows if r[1] == "root.seq"]
        result["seq_in_order"] = seq == sorted(seq)
        result.update(probe.integrity([s["key"] for s in specs]))
        return result


# ----------------------------------------------------------------------
# kill
# ----------------------------------------------------------------------
RUNNING_JOBS = """
    SELECT name FROM queue_job WHERE state = 'started'
    UNION
    SELECT name FROM queue_job job
     WHERE state NOT IN ('done', 'failed')
       AND NOT EXISTS (
           SELECT 1 FROM (SELECT id FROM queue_job
                           WHERE state NOT IN ('done', 'failed')
                             FOR NO KEY UPDATE SKIP LOCKED) free
            WHERE free.id = job.id)
"""


def running_keys(probe):
    """Keys of the jobs being run: committed ``started`` (queue_job_sh, HTTP
    runner) or row-locked by their runner (cron_jobrunner)."""
    return {name[len("probe ") :] for (name,) in probe.query(RUNNING_JOBS)}


def kill(
    bench,
    runner,
    jobs=8,
    duration=6.0,
    capacity=2,
    kill_after=3.0,
    timeout=180,
    workers=None,
):
    """kill -9 the server while long jobs run, restart it at once.

    ``workers=0`` runs the threaded server (with ``capacity`` cron threads)."""
    with ExitStack() as stack:
        db, helper, probe = open_scenario(stack, bench, runner, "kill", capacity)
        server = stack.enter_context(
            bench.server(runner, db, capacity=capacity, workers=workers)
        )
        time.sleep(SETTLE)
        keys = [f"k-{number}" for number in range(jobs)]
        t0 = helper.enqueue([probe_job(key, duration) for key in keys])
        time.sleep(max(0, t0 + kill_after - time.time()))
        interrupted = running_keys(probe)
        t_kill = time.time()
        server.kill9()
        server.start(wait=False)
        server.wait_ready()
        t_ready = time.time()
        ready_s = t_ready - t_kill
        finished = probe.wait_idle(timeout)
        rows = probe.rows("k-%")
        started = {row[0]: row[3] for row in rows}
        reruns = [started[key] - t_kill for key in interrupted if key in started]
        after = [row[3] - t_kill for row in rows if row[3] > t_kill]
        done_at = [row[4] for row in rows]
        return {
            "jobs": jobs,
            "job_s": duration,
            "interrupted": len(interrupted),
            "restart_s": rounded(ready_s, 2),
            "first_start_after_kill_s": rounded(min(after, default=None), 2),
            # from the moment the restarted server answers HTTP
            "first_start_after_ready_s": rounded(
                min(after) - ready_s if after else None, 2
            ),
            "recovery_s": rounded(max(reruns), 2)
            if reruns and len(reruns) == len(interrupted)
            else None,
            "all_done_after_kill_s": rounded(max(done_at) - t_kill, 2)
            if finished and done_at
            else None,
            "timeout": not finished,
            **probe.integrity(keys),
        }


# ----------------------------------------------------------------------
# poison
# ----------------------------------------------------------------------
RUNNER_CRONS = {
    "queue_job_sh": """
        SELECT cron.active FROM ir_cron cron
          JOIN ir_act_server action ON action.id = cron.ir_actions_server_id
         WHERE action.model_name = 'queue.job.sh.runner'""",
    "cron_jobrunner": "SELECT active FROM ir_cron WHERE queue_job_runner",
}


def poison(
    bench,
    runner,
    gap=1.0,
    duration=0.2,
    limit=10,
    poison_s=15,
    max_retries=2,
    capacity=2,
    timeout=150,
):
    """One job always killed by the time limit, among normal jobs enqueued
    one every ``gap`` s until it is terminal (or ``timeout``).

    The traffic matters: with a limit this short, prefork's watchdog also
    kills idle cron workers (they sleep up to 70 s between polls), so
    without new jobs waking them nothing may run for long."""
    with ExitStack() as stack:
        db, helper, probe = open_scenario(stack, bench, runner, "poison", capacity)
        stack.enter_context(
            bench.server(
                runner,
                db,
                capacity=capacity,
                extra=[f"--limit-time-real={limit}", f"--limit-time-real-cron={limit}"],
            )
        )
        time.sleep(SETTLE)
        t0 = helper.enqueue([probe_job("p-poison", poison_s, max_retries=max_retries)])
        keys = []
        enqueued = {}
        while time.time() - t0 < timeout:
            if probe.jobs()["p-poison"][0] in ("done", "failed"):
                break
            keys.append(f"n-{len(keys)}")
            enqueued[keys[-1]] = helper.enqueue([probe_job(keys[-1], duration)])
            time.sleep(gap)
        poison_end_s = time.time() - t0
        finished = probe.wait_idle(30) and poison_end_s < timeout
        info = probe.jobs()
        normal = {row[0]: row for row in probe.rows("n-%")}
        crons = (
            [row[0] for row in probe.query(RUNNER_CRONS[runner])]
            if (runner in RUNNER_CRONS)
            else None
        )
        return {
            "limit_s": limit,
            "poison_state": info["p-poison"][0],
            "poison_retry": info["p-poison"][1],
            "poison_terminal_s": rounded(poison_end_s, 1) if finished else None,
            "normal_jobs": len(keys),
            "normal_done": len(normal),
            "normal_latency_p95_s": rounded(
                percentile(
                    [normal[key][3] - enqueued[key] for key in keys if key in normal],
                    95,
                ),
                1,
            ),
            "runner_crons_active": f"{sum(crons)}/{len(crons)}"
            if crons is not None
            else "n/a",
            "timeout": not finished,
            **probe.integrity(keys, expect_failed=["p-poison"]),
        }


# ----------------------------------------------------------------------
# odoosh
# ----------------------------------------------------------------------
def odoosh(
    bench,
    runner,
    period=30,
    timeout=90,
    duration=120,
    capacity=2,
    gap=(1.0, 5.0),
    pass_seconds=None,
    limit_time_real=0,
):
    """Odoo.sh's cron worker simulated: HTTP-only server, and every
    ``period`` s a fresh process running the due crons once, killed after
    ``timeout`` s, with Odoo's ``limit_time_real`` (0: none). Single jobs
    enqueued at random intervals.

    ``ODOO_STAGE`` is set as on Odoo.sh. queue_job_sh's passes there last
    1.5 platform periods by default (450 s); with compressed periods that
    is ``pass_seconds`` = 1.5 * ``period`` unless given."""
    if runner == "http":
        return {"skipped": "no jobrunner on Odoo.sh"}
    channels_config = f"root:{capacity}"
    env = {
        "ODOO_STAGE": "staging",
        "ODOO_QUEUE_JOB_SH_PASS_SECONDS": str(pass_seconds or 1.5 * period),
    }
    with ExitStack() as stack:
        db, helper, probe = open_scenario(
            stack, bench, runner, "odoosh", capacity, probe_cron=True
        )
        stack.enter_context(
            bench.server(runner, db, capacity=capacity, cron_threads=0, env=env)
        )
        sim = simulator(
            bench, db, period, timeout, channels_config, env, limit_time_real
        )
        sim.start()
        stack.callback(sim.stop)
        started = time.time()
        enqueued = {}
        number = 0
        while time.time() - started < duration:
            key = f"o-{number}"
            enqueued[key] = helper.enqueue([probe_job(key)])
            number += 1
            time.sleep(random.uniform(*gap))
        finished = probe.wait_idle(period * 2 + 5)
        sim.stop()
        rows = {row[0]: row[3] for row in probe.rows("o-%")}
        latencies = [rows[key] - t for key, t in enqueued.items() if key in rows]
        ticks = [row[3] for row in probe.rows("cron-tick")]
        gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
        return {
            "period_s": period,
            "timeout_s": timeout,
            "limit_time_real": limit_time_real,
            "jobs": len(enqueued),
            **latencies_summary(latencies),
            "not_started": len(enqueued) - len(latencies),
            "cron_runs_started": sim.runs_started,
            "cron_runs_killed": sim.runs_killed,
            "cron_runs_stopped": sim.runs_stopped,
            # a cron due every minute should run at the first cron process
            # start after it is due: gaps of at most 60 s + one period
            "probe_cron_runs": len(ticks),
            "probe_cron_max_gap_s": round(max(gaps), 1) if gaps else None,
            "timeout": not finished,
            **probe.integrity(list(enqueued)),
        }


# ----------------------------------------------------------------------
# soak
# ----------------------------------------------------------------------
def soak_job(number):
    key = f"s-{number}"
    if number % 50 == 0:  # 2 %
        return {"key": key, "method": "probe_fail"}, "failed"
    if number % 10 == 1:  # 10 %
        return {
            "key": key,
            "method": "probe_retry",
            "kwargs": {"failures": 1, "seconds": 1},
        }, "done"
    return probe_job(key), "done"


def soak(
    bench, runner, jobs=20000, kill_every=20.0, capacity=2, batch=500, timeout=2400
):
    """Many jobs (10 % retried once, 2 % failing) on two servers sharing
    the database; the second server is kill -9'd every ``kill_every`` s and
    restarted. RSS of the first server's cron workers (HTTP workers for the
    HTTP runner) sampled all along."""
    with ExitStack() as stack:
        db, helper, probe = open_scenario(stack, bench, runner, "soak", capacity)
        steady = stack.enter_context(bench.server(runner, db, 0, capacity=capacity))
        victim = stack.enter_context(bench.server(runner, db, 1, capacity=capacity))
        kind = "WorkerHTTP" if runner == "http" else "WorkerCron"
        sampler = RssSampler(lambda: steady.workers(kind))
        sampler.start()
        stack.callback(sampler.stop)
        time.sleep(SETTLE)
        specs = [soak_job(number) for number in range(jobs)]
        expect = {"done": [], "failed": []}
        for spec, outcome in specs:
            expect[outcome].append(spec["key"])
        started = last_kill = time.time()
        kills = 0
        pending = [spec for spec, _outcome in specs]
        deadline = started + timeout
        enqueue_s = 0.0
        while time.time() < deadline:
            if pending:
                answer = helper.enqueue(pending[:batch], timings=True)
                enqueue_s += answer["end"] - answer["began"]
                pending = pending[batch:]
            else:
                time.sleep(0.5)
            if time.time() - last_kill >= kill_every:
                victim.kill9()
                kills += 1
                victim.start()
                last_kill = time.time()
                log(f"soak {runner}: kill {kills}, unfinished {probe.unfinished()}")
            if not pending and probe.unfinished() == 0:
                break
        finished = not pending and probe.unfinished() == 0
        sampler.stop()
        done_at = [row[4] for row in probe.rows("s-%")]
        seconds = max(done_at) - started if done_at else None
        # queue_job counts the first run as a retry already
        retried = probe.query("SELECT count(*) FROM queue_job WHERE retry > 1")[0][0]
        return {
            "jobs": jobs,
            "kills": kills,
            "enqueue_s": rounded(enqueue_s, 1),
            "seconds": rounded(seconds, 1),
            "jobs_per_s": rounded(jobs / seconds, 1) if seconds else None,
            "retried_jobs": retried,
            "timeout": not finished,
            **probe.integrity(expect["done"], expect["failed"]),
            **sampler.summary(),
        }


SCENARIOS = {
    "drain": drain,
    "drain_slow": drain_slow,
    "latency": latency,
    "latency_cold": latency_cold,
    "channels": channels,
    "kill": kill,
    "poison": poison,
    "odoosh": odoosh,
    "soak": soak,
}
