# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Real Odoo servers for the integration tests (run by ``dev/test``).

Each test gets a fresh database copied from a template in which
``queue_job_sh`` and ``test_queue_job_sh`` are installed once per session.
Servers are ``dev/odoo_server.py`` processes in a process group of their own, so
that a test can kill -9 the whole server (prefork workers included). Jobs are
enqueued with ``with_delay()`` from another process (``odoo shell``).
"""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import uuid
import xmlrpc.client

import psycopg2
import pytest
from psycopg2 import sql as pgsql

REPO = pathlib.Path(__file__).resolve().parents[3]
LOGS = REPO / ".local" / "logs" / "integration"
# Odoo's command line (dev/odoo_server.py says why not python3 -m odoo)
ODOO = [sys.executable, str(REPO / "dev" / "odoo_server.py")]

try:
    import odoo  # noqa: F401
except ImportError:
    sys.stderr.write(
        "\n!!!!! Odoo is not importable: integration tests SKIPPED !!!!!\n"
    )
    collect_ignore_glob = ["test_*.py"]


def addons_path():
    if os.environ.get("QUEUE_JOB_SH_ADDONS_PATH"):
        return os.environ["QUEUE_JOB_SH_ADDONS_PATH"]
    import odoo.addons.base

    odoo_addons = pathlib.Path(odoo.addons.base.__file__).parents[1]
    return f"{odoo_addons},{REPO},{REPO / 'dev' / 'addons'}"


def db_args(db):
    return [
        "-d",
        db,
        "--db_host",
        os.environ.get("PGHOST", "127.0.0.1"),
        "--db_port",
        os.environ.get("PGPORT", "55432"),
        "-r",
        os.environ.get("PGUSER", "odoo"),
        "-w",
        os.environ.get("PGPASSWORD", "odoo"),
        f"--addons-path={addons_path()}",
    ]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sql(db, query, args=None):
    """Run one query in its own committed transaction; rows for a SELECT."""
    conn = psycopg2.connect(dbname=db)
    try:
        with conn, conn.cursor() as cr:
            cr.execute(query, args)
            return cr.fetchall() if cr.description else None
    finally:
        conn.close()


def wait_until(condition, timeout, interval=0.2, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def run_odoo(db, *args):
    """``odoo server`` on ``db`` with ``args`` until it stops by itself (an
    install, an update: ``--stop-after-init``); a failure fails the test.
    Returns the completed process."""
    result = subprocess.run(
        [*ODOO, "server", *db_args(db), *args]
        + ["--stop-after-init", "--log-level=warn", f"--http-port={free_port()}"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def odoo_shell(db, script, env=None):
    """Run ``script`` in ``odoo shell`` (another process); it must commit."""
    result = subprocess.run(
        [*ODOO, "shell", *db_args(db), "--no-http"] + ["--log-level=warn"],
        input=script,
        text=True,
        capture_output=True,
        timeout=180,
        env=dict(os.environ, **(env or {})),
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def login(server):
    """``(uid, models)``: admin's uid on ``server``'s database and the
    XML-RPC proxy of its models, once the server answers."""
    common = xmlrpc.client.ServerProxy(
        f"http://127.0.0.1:{server.port}/xmlrpc/2/common"
    )

    def uid():
        try:
            return common.login(server.db, "admin", "admin")
        except OSError:
            return None

    return (
        wait_until(uid, timeout=90, message="the server answers"),
        xmlrpc.client.ServerProxy(f"http://127.0.0.1:{server.port}/xmlrpc/2/object"),
    )


class OdooServer:
    """An ``odoo server`` process group."""

    def __init__(self, db, *args, env=None, name="server"):
        self.db = db
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.port = free_port()
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log = LOGS / f"{db}-{name}.log"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [*ODOO, "server", *db_args(self.db)]
            + ["--http-interface=127.0.0.1", f"--http-port={self.port}"]
            # prefork's longpolling server: not 8072, other servers may run
            + [f"--gevent-port={free_port()}"]
            + [f"--logfile={self.log}", *self.args],
            env=self.env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        return self

    def kill(self):
        """kill -9 the server and every process it started."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def errors(self):
        """The log's ERROR and CRITICAL lines."""
        if not self.log.exists():
            return []
        return [
            line
            for line in self.log.read_text().splitlines()
            if " ERROR " in line or " CRITICAL " in line
        ]


@pytest.fixture(scope="session")
def template_db():
    name = f"qjsh_it_template_{uuid.uuid4().hex[:8]}"
    _create(name)
    run_odoo(name, "-i", "queue_job_sh,test_queue_job_sh", "--without-demo=all")
    yield name
    _drop(name)


def _create(name, template="template0"):
    conn = psycopg2.connect(dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cr:
        cr.execute(
            pgsql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                pgsql.Identifier(name), pgsql.Identifier(template)
            )
        )
    conn.close()


def _drop(name):
    conn = psycopg2.connect(dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cr:
        cr.execute(
            pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                pgsql.Identifier(name)
            )
        )
    conn.close()


@pytest.fixture
def db(template_db):
    name = f"qjsh_it_{uuid.uuid4().hex[:8]}"
    _create(name, template_db)
    yield name
    _drop(name)


@pytest.fixture
def servers():
    """Servers started by a test, stopped at its end."""
    started = []
    yield started
    for server in started:
        server.stop()
