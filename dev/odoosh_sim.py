#!/usr/bin/env python3
# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Simulate Odoo.sh's cron worker on one machine.

On Odoo.sh the HTTP server runs without cron threads, and every ``P``
seconds a fresh process runs the crons that are due, once, and is killed
if it still runs after ``T`` seconds. This module reproduces that driver:

* :class:`OdooShCronSimulator` (or :func:`start`) starts a thread that every
  ``period`` seconds spawns ``python3 odoosh_sim.py --once <odoo args>``
  and SIGKILLs it ``timeout`` seconds later if it has not exited yet. Runs
  may overlap (``timeout > period``), as on Odoo.sh.
* ``--once`` is the cron process: it loads Odoo's configuration from the
  given command line (forced to ``--max-cron-threads=0``), loads the
  server-wide modules and calls ``ir.cron._process_jobs(db)`` once: every
  cron that is due (nextcall reached or triggered) runs once, then it exits.

Library use (the Odoo server with HTTP only is the caller's business)::

    sim = odoosh_sim.start(period=30, timeout=90, db="mydb",
                           odoo_args=["--db_host", ..., "--addons-path", ...])
    ...
    sim.stop()
    sim.runs_started, sim.runs_finished, sim.runs_killed (after T),
    sim.runs_stopped (still running at stop(), killed then), sim.run_log

Command line (until Ctrl-C)::

    dev/odoosh_sim.py -d mydb --period 30 --timeout 90 -- --addons-path ...
"""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time


class OdooShCronSimulator:
    """Drive Odoo.sh-like cron runs against one database.

    :param period: seconds between two cron process starts (``P``)
    :param timeout: seconds after which a still running cron process is
        killed with SIGKILL (``T``)
    :param db: database name
    :param odoo_args: further Odoo command line options (database
        connection, addons path, ``--limit-time-real-cron``...)
    :param log_path: file that gets the cron processes' output (appended),
        or None to discard it
    :param env: environment of the cron processes (default: ours)
    :param first_delay: seconds before the first run
    """

    def __init__(
        self,
        period,
        timeout,
        db,
        odoo_args=(),
        log_path=None,
        env=None,
        first_delay=0.0,
        python=sys.executable,
    ):
        self.period = period
        self.timeout = timeout
        self.db = db
        self.odoo_args = list(odoo_args)
        self.log_path = log_path
        self.env = env
        self.first_delay = first_delay
        self.python = python
        self.runs_started = 0
        self.runs_killed = 0
        self.runs_finished = 0
        self.runs_stopped = 0
        # (started_at, ended_at, killed, pid) per run, epochs; killed is
        # True (after timeout), False (exited) or None (killed by stop())
        self.run_log = []
        self._running = []  # (process, started_at)
        self._stop = threading.Event()
        self._thread = None
        self._lock = threading.Lock()

    def command(self):
        return [
            self.python,
            os.path.abspath(__file__),
            "--once",
            "--",
            "-d",
            self.db,
            *self.odoo_args,
            "--max-cron-threads=0",
        ]

    def start(self):
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._drive, name="odoosh-sim", daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        """Stop starting runs and kill the running ones (counted in
        ``runs_stopped``, not as the platform's kills)."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        with self._lock:
            for process, started_at in self._running:
                if process.poll() is None:
                    self._kill(process)
                    self._record(process, started_at, killed=None)
                else:
                    self._record(process, started_at, killed=False)
            self._running = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _record(self, process, started_at, killed):
        """``killed``: True after ``timeout``, None by :meth:`stop`."""
        if killed:
            self.runs_killed += 1
        elif killed is None:
            self.runs_stopped += 1
        else:
            self.runs_finished += 1
        self.run_log.append((started_at, time.time(), killed, process.pid))

    @staticmethod
    def _kill(process):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def _spawn(self):
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        finally:
            if self.log_path:
                output.close()
        self.runs_started += 1
        self._running.append((process, time.time()))

    def _reap(self):
        now = time.time()
        still = []
        for process, started_at in self._running:
            if process.poll() is not None:
                self._record(process, started_at, killed=False)
            elif now - started_at >= self.timeout:
                self._kill(process)
                self._record(process, started_at, killed=True)
            else:
                still.append((process, started_at))
        self._running = still

    def _drive(self):
        next_start = time.time() + self.first_delay
        while not self._stop.is_set():
            with self._lock:
                if time.time() >= next_start:
                    self._spawn()
                    next_start += self.period
                self._reap()
            self._stop.wait(0.2)


def start(period, timeout, db, odoo_args=(), **kwargs):
    """Start and return an :class:`OdooShCronSimulator`."""
    return OdooShCronSimulator(period, timeout, db, odoo_args, **kwargs).start()


def run_crons_once(odoo_args):
    """The cron process: run every due cron of the database once."""
    import odoo_config

    from odoo.service import server

    db_name = odoo_config.load(odoo_args)
    server.load_server_wide_modules()
    from odoo.addons.base.models import ir_cron

    # 19.0: the class ir_cron became IrCron
    cron_class = getattr(ir_cron, "IrCron", None) or ir_cron.ir_cron
    cron_class._process_jobs(db_name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--once", action="store_true", help="be the cron process")
    parser.add_argument("-d", "--database", help="database (driver mode)")
    parser.add_argument("--period", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("odoo_args", nargs="*", help="after --: Odoo options")
    args = parser.parse_args()
    if args.once:
        run_crons_once(args.odoo_args)
        return
    if not args.database:
        parser.error("-d/--database is required")
    sim = start(args.period, args.timeout, args.database, args.odoo_args)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(args.period)
                sys.stdout.write(
                    f"runs started {sim.runs_started}, finished "
                    f"{sim.runs_finished}, killed {sim.runs_killed}\n"
                )
                sys.stdout.flush()
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
