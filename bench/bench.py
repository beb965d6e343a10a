#!/usr/bin/env python3
# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Run the benchmark: queue_job_sh vs queue_job's HTTP jobrunner vs
queue_job_cron_jobrunner, same jobs, same channels, in one run, with the
floor of queue_job's Job API (``floor.py``) on the drains.

    bench/run                      # every scenario, every runner
    bench/run drain latency        # some scenarios
    bench/run --series 19.0 drain  # on Odoo 19.0
    bench/run soak --runners queue_job_sh --set soak.jobs=5000

Prints one JSON line per scenario on stdout, then a Markdown table of the
whole run (also written to <out>/results.md and <out>/results.jsonl).
Run by ``bench/run``, in the environment of one Odoo series, with PostgreSQL
started; installs the peers it compares from PyPI when missing.
"""

import argparse
import configparser
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import odoo.release

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import REPO, RUNNERS, Bench, log  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402

# Shorter parameters for a smoke run (--quick).
QUICK = {
    "drain": {"jobs": 200},
    "drain_slow": {"jobs": 40},
    "latency": {"jobs": 5, "gap": 0.5},
    "latency_cold": {"jobs": 3},
    "channels": {"per_channel": 4},
    "kill": {"jobs": 4, "duration": 4.0},
    "poison": {"max_retries": 1, "timeout": 90},
    "odoosh": {"period": 10, "timeout": 30, "duration": 30},
    "soak": {"jobs": 1000, "kill_every": 10.0},
}

LATENCY_TABLE = ["jobs", "latency_p50_s", "latency_p95_s", "latency_max_s", "missed"]

# The metrics shown in the Markdown table, per scenario (the JSON lines
# have them all).
TABLE = {
    "drain": [
        "jobs",
        "seconds",
        "jobs_per_s",
        "of_floor",
        "duplicates",
        "lost",
        "stuck",
    ],
    "drain_slow": [
        "jobs",
        "job_s",
        "seconds",
        "jobs_per_s",
        "of_floor",
        "ideal_jobs_per_s",
        "duplicates",
        "lost",
    ],
    "latency": LATENCY_TABLE,
    "latency_cold": LATENCY_TABLE,
    "channels": [
        "makespan_s",
        "ideal_s",
        "peak_root",
        "peak_a",
        "peak_b",
        "peak_seq",
        "util_root",
        "seq_in_order",
        "duplicates",
        "lost",
    ],
    "kill": [
        "interrupted",
        "restart_s",
        "first_start_after_kill_s",
        "first_start_after_ready_s",
        "recovery_s",
        "all_done_after_kill_s",
        "duplicates",
        "lost",
        "stuck",
    ],
    "poison": [
        "poison_state",
        "poison_retry",
        "poison_terminal_s",
        "normal_jobs",
        "normal_done",
        "normal_latency_p95_s",
        "runner_crons_active",
        "duplicates",
        "stuck",
    ],
    "odoosh": [
        "jobs",
        "latency_p50_s",
        "latency_p95_s",
        "latency_max_s",
        "not_started",
        "cron_runs_started",
        "cron_runs_killed",
        "probe_cron_runs",
        "probe_cron_max_gap_s",
        "stuck",
    ],
    "soak": [
        "jobs",
        "kills",
        "seconds",
        "jobs_per_s",
        "done",
        "failed",
        "retried_jobs",
        "duplicates",
        "lost",
        "stuck",
        "rss_first_mb",
        "rss_max_mb",
        "rss_growth_mb",
    ],
}


# What the runners need from PyPI besides Odoo and this repository, per
# Odoo series (None: not published for that series): series.cfg.
_SERIES = configparser.ConfigParser()
_SERIES.read(REPO / "series.cfg")
REQUIREMENTS = {
    series: {
        "queue_job": _SERIES[series]["queue_job"],
        "cron_jobrunner": _SERIES[series].get("cron_jobrunner"),
    }
    for series in _SERIES.sections()
}
# Runs only the drains (it has no server, channels or recovery).
FLOOR_SCENARIOS = ("drain", "drain_slow")


def series():
    """The Odoo series this runs in, e.g. "18.0"."""
    return "{}.{}".format(*odoo.release.version_info[:2])


def unavailable(runner):
    """Why ``runner`` cannot run on this series, or None."""
    requirements = REQUIREMENTS.get(series())
    if requirements is None:
        raise SystemExit(f"bench: Odoo {series()} is not supported")
    if runner == "cron_jobrunner" and not requirements["cron_jobrunner"]:
        return f"n/a: queue_job_cron_jobrunner has no {series()} release"
    return None


def prepare(runners):
    """What a fresh environment lacks: the peers from PyPI. bench/run has
    built the Odoo environment this runs in and started PostgreSQL."""
    requirements = REQUIREMENTS[series()]
    wanted = [requirements["queue_job"]]
    if "cron_jobrunner" in runners and not unavailable("cron_jobrunner"):
        wanted.append(requirements["cron_jobrunner"])
    missing = []
    for requirement in wanted:
        try:
            importlib.metadata.version(requirement.split(">")[0])
        except importlib.metadata.PackageNotFoundError:
            missing.append(requirement)
    if missing:
        log(f"installing from PyPI: {' '.join(missing)}")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", *missing, "setuptools<70"],
            check=True,
        )


def parse_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def machine(bench):
    def first(command):
        try:
            return subprocess.check_output(command, text=True).strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"

    cpu = "?"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        mem_gb = int(meminfo.readline().split()[1]) / 1024 / 1024

    def version(distribution):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            return "n/a"

    pg = bench.admin("SHOW server_version")[0][0]
    durability = ", ".join(
        f"{name}={bench.admin(f'SHOW {name}')[0][0]}"
        for name in ("fsync", "synchronous_commit", "full_page_writes")
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(mem_gb, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "odoo": odoo.release.version,
        "queue_job": version("odoo-addon-queue_job"),
        "queue_job_cron_jobrunner": version("odoo-addon-queue_job_cron_jobrunner"),
        "postgresql": f"{pg} on port {bench.pg['port']} ({durability})",
        "load": " ".join(f"{load:.2f}" for load in os.getloadavg()),
        "commit": bench.commit
        or first(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]) + "+tree",
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def cell(value):
    if value is None:
        return "–"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def markdown(info, results, runners):
    lines = [
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram_gb']} GB RAM; "
        f"{info['os']}; Python {info['python']}; PostgreSQL {info['postgresql']}; "
        f"Odoo {info['odoo']}; queue_job {info['queue_job']}; "
        f"queue_job_cron_jobrunner {info['queue_job_cron_jobrunner']}; "
        f"commit {info['commit']}; {info['date']}; load average at the start "
        f"{info['load']}.",
        "",
    ]
    for result in results:
        name = result["scenario"]
        params = ", ".join(f"{k}={v}" for k, v in result["params"].items())
        by_runner = result["runners"]
        columns = [r for r in runners if r in by_runner]
        lines += [
            f"**{name}**" + (f" ({params})" if params else ""),
            "",
            "| metric | " + " | ".join(columns) + " |",
            "|---|" + "---:|" * len(columns),
        ]
        for key in [*TABLE.get(name, []), "load_1m"]:
            lines.append(
                f"| {key} | "
                + " | ".join(cell(by_runner.get(r, {}).get(key)) for r in columns)
                + " |"
            )
        errors = {r: v["error"] for r, v in by_runner.items() if "error" in v}
        skipped = {r: v["skipped"] for r, v in by_runner.items() if "skipped" in v}
        for runner, text in {**errors, **skipped}.items():
            lines.append(f"| note | {runner}: {text} |")
        lines.append("")
    return "\n".join(lines)


def run_one(bench, name, runner, result):
    """One scenario for one runner: its metrics, or why there are none."""
    reason = unavailable(runner)
    if reason:
        return {"skipped": reason}
    bench.template(runner)  # built before, not counted in the statements
    statements = bench.statements_reset()
    bench.servers = []
    started = time.time()
    try:
        metrics = SCENARIOS[name](bench, runner, **result["params"])
    except Exception as error:  # a broken runner must not stop the run
        log(f"{name} / {runner} failed: {error!r}")
        metrics = {"error": repr(error)}
    metrics["wall_s"] = round(time.time() - started, 1)
    metrics["load_1m"] = round(os.getloadavg()[0], 2)
    if statements:
        bench.statements_dump(bench.out_dir / f"{name}_{runner}_statements.txt")
    problems = bench.respawn_problems()
    if problems:
        # a process respawning in a loop eats a core: the figures are not
        # the runner's
        log(f"{name} / {runner}: INVALID: {'; '.join(problems)}")
        metrics = {
            "error": "invalid, crash loop: " + "; ".join(problems),
            "invalid_metrics": metrics,
        }
    log(f"{name} / {runner}: {json.dumps(metrics)}")
    return metrics


def compare_to_floor(result):
    """Each drain as a fraction of the floor's, measured in the same run."""
    by_runner = result["runners"]
    floor = by_runner.get("floor", {}).get("jobs_per_s")
    for metrics in by_runner.values():
        if metrics.get("jobs_per_s") and floor:
            metrics["of_floor"] = round(metrics["jobs_per_s"] / floor, 2)
        if metrics.get("job_s") and metrics.get("capacity"):
            metrics["ideal_jobs_per_s"] = round(
                metrics["capacity"] / metrics["job_s"], 1
            )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenarios", nargs="*", choices=[[], *SCENARIOS], default=[])
    parser.add_argument("--runners", default=",".join(RUNNERS))
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SCENARIO.PARAM=VALUE",
        help="override a scenario parameter (see bench/scenarios.py)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    parser.add_argument("--out", help="logs and results (default .local/bench/<time>)")
    parser.add_argument("--prefix", default="qjsh_bench_", help="database prefix")
    parser.add_argument("--port", type=int, default=18140, help="first HTTP port")
    parser.add_argument("--rebuild", action="store_true", help="rebuild templates")
    parser.add_argument("--keep", action="store_true", help="keep scenario dbs")
    parser.add_argument(
        "--commit",
        help="measure the addons of this commit (e.g. HEAD) instead of the "
        "working tree",
    )
    args = parser.parse_args()
    scenarios = args.scenarios or list(SCENARIOS)
    runners = [r for r in args.runners.split(",") if r]
    unknown = set(runners) - set(RUNNERS)
    if unknown:
        parser.error(f"unknown runners {sorted(unknown)}, choose among {RUNNERS}")
    prepare(runners)
    params = {name: dict(QUICK[name]) if args.quick else {} for name in scenarios}
    for override in args.set:
        target, value = override.split("=", 1)
        name, key = target.split(".", 1)
        params.setdefault(name, {})[key] = parse_value(value)
    out = Path(args.out or REPO / ".local" / "bench" / time.strftime("%Y%m%d-%H%M%S"))
    bench = Bench(
        out,
        args.prefix,
        args.port,
        reuse=not args.rebuild,
        keep=args.keep,
        commit=args.commit,
    )
    info = machine(bench)
    log(f"output in {out}")
    results = []
    with open(out / "results.jsonl", "w") as jsonl:
        for name in scenarios:
            result = {"scenario": name, "params": params.get(name, {}), "runners": {}}
            for runner in runners:
                if runner == "floor" and name not in FLOOR_SCENARIOS:
                    continue
                log(f"{name} / {runner}")
                result["runners"][runner] = run_one(bench, name, runner, result)
            compare_to_floor(result)
            line = json.dumps(result)
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
            jsonl.write(line + "\n")
            results.append(result)
    table = markdown(info, results, runners)
    (out / "results.md").write_text(table + "\n")
    sys.stdout.write("\n" + table + "\n")


if __name__ == "__main__":
    main()
