# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Benchmark and reliability harness: the plumbing.

Databases (a template per runner, a fresh copy per scenario), real ``odoo``
server processes, the enqueuing helper process, and the measurements read
back from PostgreSQL. The scenarios themselves are in ``scenarios.py``.

The runners compared:

``queue_job_sh``
    this project: jobs run on the cron workers (``--max-cron-threads``)
``http``
    queue_job's own jobrunner, loaded server-wide (``--load=base,web,
    queue_job``), dispatching to the HTTP workers over HTTP
``cron_jobrunner``
    OCA's queue_job_cron_jobrunner (from PyPI), one cron record per cron
    thread
``floor``
    no server: bare loops on queue_job's Job API (``floor.py``), as many
    processes as the others' capacity; the most a runner keeping queue_job's
    semantics can do on the machine (drains only)
"""

import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psycopg2

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO / "dev"))

import odoosh_sim  # noqa: E402

RUNNERS = ("queue_job_sh", "http", "cron_jobrunner", "floor")
MODULES = {
    "queue_job_sh": "queue_job_sh,test_queue_job_sh",
    "http": "queue_job,test_queue_job_sh",
    "cron_jobrunner": "queue_job_cron_jobrunner,test_queue_job_sh",
}
# Sources whose change makes a template database stale.
SOURCES = {
    "queue_job_sh": ["queue_job_sh", "dev/addons/test_queue_job_sh"],
    "http": ["dev/addons/test_queue_job_sh"],
    "cron_jobrunner": ["dev/addons/test_queue_job_sh"],
}
# The floor runs on the same modules as the HTTP jobrunner (without loading
# queue_job server-wide): it shares its template.
TEMPLATE_OF = {"floor": "http"}
# The libpq environment the benchmark's PostgreSQL is given in (bench/run
# sets it for the durable cluster of dev/pg.sh).
PG_ENVIRONMENT = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD")
# Odoo's command line (see dev/odoo_server.py for why not the odoo script
# or python3 -m odoo).
ODOO = (sys.executable, str(REPO / "dev" / "odoo_server.py"))
UNFINISHED = ("wait_dependencies", "pending", "enqueued", "started")

# Epoch seconds of queue_job's UTC naive datetimes.
EPOCH = "EXTRACT(EPOCH FROM {} AT TIME ZONE 'UTC')::float8"


def odoo_version():
    """(major, minor) of the Odoo this benchmark runs (the series)."""
    out = subprocess.check_output(
        [
            sys.executable,
            "-c",
            "import odoo.release as r; print(*r.version_info[:2])",
        ],
        text=True,
    )
    return tuple(int(part) for part in out.split())


def odoo_addons_dir():
    out = subprocess.check_output(
        [
            sys.executable,
            "-c",
            "import odoo.addons.base, os;"
            "print(os.path.dirname(os.path.dirname(odoo.addons.base.__file__)))",
        ],
        text=True,
    )
    return out.strip()


def percentile(values, pct):
    """Nearest-rank percentile, None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def rounded(value, digits=3):
    return None if value is None else round(value, digits)


def log(message):
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


class Bench:
    """Shared state of one benchmark run."""

    def __init__(
        self,
        out_dir,
        prefix="qjsh_bench_",
        port=18140,
        reuse=True,
        keep=False,
        commit=None,
    ):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.out_dir.parent / "data"
        self.prefix = prefix
        self.base_port = port
        self.reuse = reuse
        self.keep = keep
        missing = [name for name in PG_ENVIRONMENT if not os.environ.get(name)]
        if missing:
            raise SystemExit(
                f"bench: {', '.join(missing)} not set; run the benchmark with "
                "bench/run, which starts its PostgreSQL and sets them"
            )
        self.pg = {
            "host": os.environ["PGHOST"],
            "port": int(os.environ["PGPORT"]),
            "user": os.environ["PGUSER"],
            "password": os.environ["PGPASSWORD"],
        }
        self.odoo_version = odoo_version()
        # the servers started by the scenario being run (respawn checks)
        self.servers = []
        # The addons measured: the working tree, or a commit exported (the
        # working tree may hold others' unfinished changes).
        self.src = REPO
        self.commit = commit
        if commit:
            self.commit = subprocess.check_output(
                ["git", "-C", str(REPO), "rev-parse", "--short", commit], text=True
            ).strip()
            self.src = self.out_dir / f"src-{self.commit}"
            self.src.mkdir(exist_ok=True)
            archive = subprocess.Popen(
                ["git", "-C", str(REPO), "archive", self.commit, "queue_job_sh", "dev"],
                stdout=subprocess.PIPE,
            )
            subprocess.run(["tar", "-x", "-C", str(self.src)], stdin=archive.stdout)
            archive.wait()
        self.addons_path = ",".join(
            [odoo_addons_dir(), str(self.src), str(self.src / "dev" / "addons")]
        )
        self._templates = {}

    # ------------------------------------------------------------------
    # PostgreSQL
    # ------------------------------------------------------------------
    def connect(self, db="postgres"):
        conn = psycopg2.connect(dbname=db, **self.pg)
        conn.autocommit = True
        return conn

    def admin(self, sql, params=None):
        conn = self.connect()
        try:
            with conn.cursor() as cr:
                cr.execute(sql, params)
                return cr.fetchall() if cr.description else None
        finally:
            conn.close()

    def db_exists(self, db):
        return bool(self.admin("SELECT 1 FROM pg_database WHERE datname=%s", (db,)))

    def drop_db(self, db):
        self.admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    def statements_reset(self):
        """Reset pg_stat_statements when the cluster has it loaded (dev/pg.sh
        pg_durable does); False when it has not."""
        if (
            "pg_stat_statements"
            not in self.admin("SHOW shared_preload_libraries")[0][0]
        ):
            return False
        self.admin("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        self.admin("SELECT pg_stat_statements_reset()")
        return True

    def statements_dump(self, path):
        """The statements run since :meth:`statements_reset`, most time first:
        where a runner's database time goes."""
        rows = self.admin(
            """
            SELECT calls, round(total_exec_time::numeric, 1),
                   round(mean_exec_time::numeric, 3), rows, wal_bytes,
                   regexp_replace(query, '\\s+', ' ', 'g')
              FROM pg_stat_statements
             WHERE dbid <> (SELECT oid FROM pg_database WHERE datname = 'postgres')
             ORDER BY total_exec_time DESC
            """
        )
        with open(path, "w") as out:
            out.write("calls\ttotal_ms\tmean_ms\trows\twal_bytes\tquery\n")
            for row in rows:
                out.write("\t".join(str(value) for value in row)[:2000] + "\n")

    def odoo_args(self, db):
        return [
            "-d",
            db,
            "--db-filter",
            f"^{db}$",
            "--db_host",
            self.pg["host"],
            "--db_port",
            str(self.pg["port"]),
            "-r",
            self.pg["user"],
            "-w",
            self.pg["password"],
            "--addons-path",
            self.addons_path,
            "--data-dir",
            str(self.data_dir),
        ]

    def sources_digest(self, runner):
        # a template is made by one Odoo series
        digest = hashlib.sha1(f"{runner} {self.odoo_version}".encode())
        for folder in SOURCES[runner]:
            for path in sorted((self.src / folder).rglob("*")):
                if path.is_file() and path.suffix in (".py", ".xml", ".csv", ".js"):
                    digest.update(str(path.relative_to(self.src)).encode())
                    digest.update(path.read_bytes())
        return digest.hexdigest()[:16]

    def template(self, runner):
        """The runner's template database, (re)built when its sources changed
        (checked once per run: the working tree may change meanwhile)."""
        runner = TEMPLATE_OF.get(runner, runner)
        if runner not in self._templates:
            self._templates[runner] = self._template(runner)
        return self._templates[runner]

    def _template(self, runner):
        db = f"{self.prefix}tpl{self.odoo_version[0]}_{runner}"
        digest = self.sources_digest(runner)
        if self.reuse and self.db_exists(db):
            comment = self.admin(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname=%s",
                (db,),
            )[0][0]
            if comment == f"bench:{digest}":
                return db
        self.drop_db(db)
        log(f"building template {db} ({MODULES[runner]})")
        logfile = self.out_dir / f"template_{runner}.log"
        with open(logfile, "wb") as output:
            subprocess.run(
                [
                    *ODOO,
                    *self.odoo_args(db),
                    "-i",
                    MODULES[runner],
                    # a boolean from Odoo 19 (it warns about "all")
                    "--without-demo=all"
                    if self.odoo_version < (19, 0)
                    else "--without-demo",
                    "--stop-after-init",
                    "--max-cron-threads=0",
                    "--http-port",
                    str(self.base_port + 59),
                    "--log-level=warn",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                check=True,
            )
        self.admin(f"COMMENT ON DATABASE \"{db}\" IS 'bench:{digest}'")
        return db

    def fresh_db(self, runner, scenario):
        db = f"{self.prefix}{scenario}_{runner}"
        template = self.template(runner)
        self.drop_db(db)
        self.admin(f'CREATE DATABASE "{db}" TEMPLATE "{template}"')
        # the copy's dirty pages go to disk now, not in a checkpoint that
        # slows the scenario's first commits down (seconds with fsync on)
        self.admin("CHECKPOINT")
        return db

    # ------------------------------------------------------------------
    # Processes
    # ------------------------------------------------------------------
    def server(self, runner, db, slot=0, **kwargs):
        server = Server(self, runner, db, slot, **kwargs)
        self.servers.append(server)
        return server

    def floor(self, db, processes, channels):
        return Floor(self, db, processes, channels)

    def respawn_problems(self):
        """What crash-looped in the servers of the scenario just run."""
        return [p for server in self.servers for p in server.respawn_problems()]

    def helper(self, db, channels):
        return Helper(self, db, channels)


def runner_env(channels, port=None):
    env = dict(os.environ, ODOO_QUEUE_JOB_CHANNELS=channels)
    if port:
        env.update(ODOO_QUEUE_JOB_PORT=str(port), ODOO_QUEUE_JOB_HOST="127.0.0.1")
    return env


class ProcessWatch(threading.Thread):
    """The children of a server's master process, sampled from /proc.

    A worker that dies at start is respawned by the master at once, again
    and again (with zope.event >= 5.1 the gevent process of a prefork
    server does so every second), silently eating a core: counting the
    distinct children seen tells.
    """

    def __init__(self, pid, interval=0.2):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.children = {}  # pid: "gevent" or "worker"
        self._halt = threading.Event()

    def run(self):
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        while not self._halt.is_set():
            with contextlib.suppress(OSError):
                for child in path.read_text().split():
                    if int(child) not in self.children:
                        self.children[int(child)] = self._kind(child)
            self._halt.wait(self.interval)

    @staticmethod
    def _kind(pid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return "worker"
        # the master runs sys.argv[0] again with "gevent" (long_polling_spawn)
        return "gevent" if b"gevent" in argv[1:3] else "worker"

    def stop(self):
        self._halt.set()
        self.join()

    def count(self, kind):
        return sum(1 for value in self.children.values() if value == kind)


class Server:
    """A real ``odoo`` server (prefork unless ``workers=0``) for one runner."""

    WORKER_RE = re.compile(rb"Worker (\w+) \((\d+)\) alive")
    # Workers that Odoo itself ends or kills on purpose (limits): their
    # replacements are no crash loop.
    RECYCLED_RE = re.compile(
        rb"timeout after \d+s|max request \(|memory limit \(|CPU time limit|"
        rb"max age \(|Parent changed"
    )

    def __init__(
        self,
        bench,
        runner,
        db,
        slot=0,
        capacity=2,
        channels=None,
        cron_threads=None,
        extra=(),
        env=None,
        workers=None,
    ):
        self.bench = bench
        self.runner = runner
        self.db = db
        self.port = bench.base_port + 2 * slot
        self.capacity = capacity
        self.workers_count = capacity if workers is None else workers
        self.channels = channels or f"root:{capacity}"
        self.cron_threads = capacity if cron_threads is None else cron_threads
        self.extra = list(extra)
        self.env = env or {}
        self.logfile = bench.out_dir / f"{db}_server{slot}.log"
        self.process = None
        self.starts = 0
        # (ProcessWatch, log offset at its start) per start of the server
        self.watches = []

    def command(self):
        cmd = [
            *ODOO,
            *self.bench.odoo_args(self.db),
            "--http-interface",
            "127.0.0.1",
            "--http-port",
            str(self.port),
            "--gevent-port",
            str(self.port + 1),
            "--workers",
            str(self.workers_count),
            "--max-cron-threads",
            str(self.cron_threads),
            "--log-level=info",
            *self.extra,
        ]
        if self.runner == "http":
            cmd.append("--load=base,web,queue_job")
        return cmd

    def start(self, wait=True):
        self.starts += 1
        output = open(self.logfile, "ab")  # noqa: SIM115
        self.log_offset = output.tell()
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=dict(
                runner_env(self.channels, self.port if self.runner == "http" else None),
                **self.env,
            ),
            start_new_session=True,
        )
        output.close()
        if self.workers_count:
            watch = ProcessWatch(self.process.pid)
            watch.start()
            self.watches.append((watch, self.log_offset))
        if wait:
            self.wait_ready()
        return self

    def _stop_watch(self):
        for watch, _offset in self.watches:
            if watch.is_alive():
                watch.stop()

    def respawn_problems(self):
        """Children respawned beyond what each start needs and what Odoo's
        limits explain: a crash loop, which makes the figures invalid."""
        self._stop_watch()
        problems = []
        text = self.logfile.read_bytes() if self.logfile.exists() else b""
        offsets = [offset for _watch, offset in self.watches] + [len(text)]
        for number, (watch, offset) in enumerate(self.watches):
            segment = text[offset : offsets[number + 1]]
            recycled = len(self.RECYCLED_RE.findall(segment))
            # HTTP and cron workers, the gevent process, and the workers
            # Odoo replaced on purpose
            wanted = self.workers_count + self.cron_threads + 1 + recycled
            started = len(watch.children)
            # one more than needed: a worker recycled as the run ends
            if started > wanted + 1:
                problems.append(
                    f"{self.logfile.name} (start {number + 1}): {started} "
                    f"processes started for {wanted} ({watch.count('gevent')} "
                    "gevent): a crash loop, see the log"
                )
        return problems

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        url = f"http://127.0.0.1:{self.port}/web/health"
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited, see {self.logfile}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout}s, see {self.logfile}")

    def kill9(self):
        """SIGKILL the whole server: master and workers."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._stop_watch()

    def stop(self):
        if not self.process or self.process.poll() is not None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        self.kill9()

    def workers(self, kind):
        """Live pids of this server start's workers of class ``kind``
        (WorkerCron, WorkerHTTP, WorkerJobRunner), from its log."""
        with open(self.logfile, "rb") as logfile:
            logfile.seek(self.log_offset)
            text = logfile.read()
        pids = []
        for name, pid in self.WORKER_RE.findall(text):
            if name.decode() == kind and Path(f"/proc/{int(pid)}").exists():
                pids.append(int(pid))
        return pids

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssSampler(threading.Thread):
    """Samples the RSS of ``pids()`` every ``interval`` seconds."""

    def __init__(self, pids, interval=2.0):
        super().__init__(daemon=True)
        self.pids = pids
        self.interval = interval
        self.samples = []  # (epoch, {pid: mb})
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            sample = {pid: rss_mb(pid) for pid in self.pids()}
            sample = {pid: mb for pid, mb in sample.items() if mb}
            if sample:
                self.samples.append((time.time(), sample))
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join()

    def summary(self):
        """Per pid first/last/max RSS, for the pid sampled the longest."""
        series = {}
        for at, sample in self.samples:
            for pid, mb in sample.items():
                series.setdefault(pid, []).append((at, mb))
        if not series:
            return {}
        pid, points = max(series.items(), key=lambda item: len(item[1]))
        step = max(1, len(points) // 10)
        return {
            "rss_pid": pid,
            "rss_first_mb": rounded(points[0][1], 1),
            "rss_last_mb": rounded(points[-1][1], 1),
            "rss_max_mb": rounded(max(mb for _at, mb in points), 1),
            "rss_growth_mb": rounded(points[-1][1] - points[0][1], 1),
            "rss_series_mb": [rounded(mb, 1) for _at, mb in points[::step]],
            "rss_workers": len(series),
        }


class Helper:
    """The process that enqueues jobs (``odoo_helper.py``)."""

    def __init__(self, bench, db, channels):
        self.logfile = bench.out_dir / f"{db}_helper.log"
        self.stderr = open(self.logfile, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(BENCH_DIR / "odoo_helper.py"),
                *bench.odoo_args(db),
                "--log-level=warn",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=runner_env(channels),
            text=True,
        )
        self._read()

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"helper died, see {self.logfile}")
        return json.loads(line)

    def call(self, **command):
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def setup(self, runner, capacity, probe_cron=False):
        return self.call(
            op="setup", runner=runner, capacity=capacity, probe_cron=probe_cron
        )

    def enqueue(self, jobs, timings=False):
        """Enqueue in one transaction; returns the commit's epoch (and the
        whole answer with ``timings``)."""
        answer = self.call(op="enqueue", jobs=jobs)
        return answer if timings else answer["t"]

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.process.stdin.flush()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Floor:
    """The floor runner: ``processes`` bare Job API loops (``floor.py``)."""

    def __init__(self, bench, db, processes, channels):
        self.processes = []
        for number in range(processes):
            with open(bench.out_dir / f"{db}_floor{number}.log", "ab") as stderr:
                self.processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            str(BENCH_DIR / "floor.py"),
                            *bench.odoo_args(db),
                            "--log-level=warn",
                        ],
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=stderr,
                        env=runner_env(channels),
                        text=True,
                    )
                )
        for process in self.processes:
            if not process.stdout.readline():
                self.stop()
                raise RuntimeError(f"a floor process died, see {bench.out_dir}")

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        died = [p.pid for p in self.processes if p.poll() is not None]
        self.stop()
        if died and not exc[0]:
            # fewer loops than the capacity ran: not the floor
            raise RuntimeError(f"floor processes {died} died, see their logs")


class Probe:
    """Reads the outcome back: probe rows and queue_job rows."""

    def __init__(self, bench, db):
        self.conn = bench.connect(db)

    def query(self, sql, params=None):
        with self.conn.cursor() as cr:
            cr.execute(sql, params)
            return cr.fetchall()

    def states(self):
        return dict(self.query("SELECT state, count(*) FROM queue_job GROUP BY state"))

    def unfinished(self):
        return self.query(
            "SELECT count(*) FROM queue_job WHERE state IN %s", (UNFINISHED,)
        )[0][0]

    def rows(self, like="%"):
        """Probe rows: (key, channel, pid, started_at, ended_at)."""
        return self.query(
            "SELECT key, channel, pid, started_at::float8, ended_at::float8 "
            "FROM test_queue_job_sh_probe WHERE key LIKE %s ORDER BY started_at",
            (like,),
        )

    def jobs(self):
        """{key: (state, retry, created, started, done)} (epochs)."""
        result = {}
        for name, *values in self.query(
            "SELECT name, state, retry, {}, {}, {} FROM queue_job".format(
                EPOCH.format("date_created"),
                EPOCH.format("date_started"),
                EPOCH.format("date_done"),
            )
        ):
            key = name[len("probe ") :] if name.startswith("probe ") else name
            result[key] = tuple(values)
        return result

    def wait(self, predicate, timeout, poll=0.2):
        """Poll until ``predicate()``; True if it came before ``timeout``."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate():
                return True
            time.sleep(poll)
        return predicate()

    def wait_idle(self, timeout):
        return self.wait(lambda: self.unfinished() == 0, timeout)

    def integrity(self, expect_done, expect_failed=()):
        """Counts: duplicates and losses from the probe rows, leftovers
        from the job states."""
        counts = dict(
            # rows of jobs, not of attempts (attempt:<key>), hooks
            # (on_fail:...) or the probe cron (cron-tick)
            self.query(
                "SELECT key, count(*) FROM test_queue_job_sh_probe "
                "WHERE key NOT LIKE '%%:%%' AND key != 'cron-tick' GROUP BY key"
            )
        )
        states = self.states()
        jobs = self.jobs()
        return {
            "done": states.get("done", 0),
            "failed": states.get("failed", 0),
            "duplicates": sum(1 for n in counts.values() if n > 1),
            "lost": sum(1 for key in expect_done if key not in counts),
            "wrong_state": sum(
                1 for key in expect_done if jobs.get(key, ("missing",))[0] != "done"
            )
            + sum(
                1 for key in expect_failed if jobs.get(key, ("missing",))[0] != "failed"
            ),
            "stuck": sum(states.get(state, 0) for state in UNFINISHED),
        }

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def simulator(bench, db, period, timeout, channels, env, limit_time_real=0):
    """Odoo.sh's cron worker: killed after ``timeout`` by the platform, with
    Odoo's ``limit_time_real`` (none of Odoo's own by default: no public
    source gives the platform's)."""
    return odoosh_sim.OdooShCronSimulator(
        period,
        timeout,
        db,
        odoo_args=[
            *bench.odoo_args(db)[2:],
            "--limit-time-real-cron=0",
            f"--limit-time-real={limit_time_real}",
            "--log-level=info",
        ],
        log_path=bench.out_dir / f"{db}_odoosh_cron.log",
        env=dict(runner_env(channels), **env),
    )
