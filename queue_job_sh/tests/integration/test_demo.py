# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``dev/demo`` does not open the machine it runs on: Odoo listens on
127.0.0.1 only, the database manager refuses every operation, the master
and admin passwords are made for each demo (admin/admin does not log in),
and Odoo's PostgreSQL role is not a superuser."""

import os
import re
import signal
import socket
import stat
import subprocess

import pytest
import requests
from conftest import LOGS, REPO, free_port, sql, wait_until

import odoo.release

SERIES = "{}.{}".format(*odoo.release.version_info[:2])
DB = f"queue_job_sh_demo_{SERIES.replace('.', '_')}"
CONFIG = REPO / ".local" / "demo" / f"odoo-{SERIES}.conf"


def other_addresses():
    """This machine's IPv4 addresses other than loopback."""
    try:
        output = subprocess.run(
            ["hostname", "-I"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return [address for address in output.split() if ":" not in address]


def listening(port):
    """The local addresses of the TCP sockets listening on ``port``."""
    output = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return sorted({line.split()[3].rpartition(":")[0] for line in output.splitlines()})


@pytest.fixture
def demo():
    """``dev/demo`` running (not --once: it keeps serving while the test
    looks), stopped at the end; its output so far, as a function."""
    port = free_port()
    LOGS.mkdir(parents=True, exist_ok=True)
    output = LOGS / "demo.out"
    with open(output, "w") as out:
        process = subprocess.Popen(
            [str(REPO / "dev" / "demo"), "--series", SERIES],
            env=dict(os.environ, QUEUE_JOB_SH_DEMO_PORT=str(port)),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield port, output.read_text
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def test_demo_opens_nothing(demo):
    port, output = demo
    wait_until(
        lambda: "== set up and processed" in output() or "dev/demo:" in output(),
        timeout=600,
        message="the demo set up",
    )
    assert "== set up and processed" in output(), output()[-3000:]
    base = f"http://127.0.0.1:{port}"

    # on 127.0.0.1 only
    assert listening(port) == ["127.0.0.1"]
    for address in other_addresses():
        with pytest.raises(OSError), socket.create_connection((address, port), 5):
            pass
    assert "From another machine, through SSH" in output()
    admin_password = re.search(r"Login admin, password (\S+) ", output()).group(1)

    # the configuration and the passwords: for the demo's user only
    for path in (CONFIG, CONFIG.parent / f"admin-password-{SERIES}"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(CONFIG.parent.stat().st_mode) == 0o700
    master_password = re.search(r"admin_passwd = (\S+)", CONFIG.read_text()).group(1)
    assert master_password not in ("admin", admin_password)

    # no database manager: the page says so, the operations refuse, with
    # the master password too
    page = requests.get(f"{base}/web/database/manager", timeout=30)
    assert "The database manager has been disabled" in page.text
    assert DB not in page.text
    backup = requests.post(
        f"{base}/web/database/backup",
        data={"master_pwd": master_password, "name": DB, "backup_format": "zip"},
        timeout=60,
    )
    assert not backup.content.startswith(b"PK")
    assert "Access Denied" in backup.text or "AccessDenied" in backup.text
    listed = requests.post(
        f"{base}/jsonrpc",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": "db", "method": "list", "args": []},
        },
        timeout=30,
    ).json()
    assert listed["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"

    # admin logs in with the demo's password only
    def login(password):
        session = requests.Session()
        result = session.post(
            f"{base}/web/session/authenticate",
            json={
                "jsonrpc": "2.0",
                "params": {"db": DB, "login": "admin", "password": password},
            },
            timeout=60,
        ).json()
        return bool(result.get("result", {}).get("uid"))

    assert not login("admin")
    assert login(admin_password)

    # Odoo's PostgreSQL role owns the demo database and is no superuser
    role = re.search(r"db_user = (\S+)", CONFIG.read_text()).group(1)
    assert sql(
        "postgres",
        "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
        "WHERE rolname = %s",
        (role,),
    ) == [(False, False, False)]
    assert sql(
        "postgres",
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
        (DB,),
    ) == [(role,)]
