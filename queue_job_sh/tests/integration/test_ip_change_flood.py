# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``/_odoo.sh/ip-change`` flooded on a real prefork server (two HTTP
workers, one cron worker that runs the jobs): 100 unauthenticated
notifications alternating two addresses, each change sent twice, per
``ODOO_STAGE``. Counted: answers, recorded parameters, jobs, messages; on
production also the other forms of the path, local addresses, and what an
addon's hook receives."""

import http.client
import re
import threading
from urllib.parse import urlencode

import pytest
import requests
from conftest import OdooServer, addons_path, free_port, run_odoo, sql, wait_until

# globally routable: production refuses any other address
A, B = "11.22.33.44", "44.33.22.11"
PAIRS = 50  # 100 requests: each change is sent twice
PRODUCTION_CURRENT = "queue_job_sh.ip_change.current"
PRODUCTION_REFUSED = "queue_job_sh.ip_change.refused"
PRODUCTION_LIMIT = 3  # changes recorded in 24 hours
SIMULATION_CURRENT = "queue_job_sh.ip_change.simulation.current"
SIMULATION_DATE = "queue_job_sh.ip_change.simulation.date"
INTERVAL = 3600  # from the configuration file, so that no change is due
PATH_VARIANTS = (
    "/_odoo.sh/ip-change/",
    "/_odoo.sh/ip%2Dchange",
    "/%5Fodoo.sh/ip-change",
    "/_odoo.sh//ip-change",
    "//_odoo.sh/ip-change",
)
LOCAL_ADDRESSES = ("127.0.0.1", "10.0.0.8", "192.168.1.1", "169.254.1.1", "::1")
# An addon that extends the hook: it records what the hook receives
HOOK_PROBE = {
    "__init__.py": "from . import models\n",
    "__manifest__.py": repr(
        {
            "name": "IP change hook probe",
            "version": "1.0.0",
            "license": "LGPL-3",
            "depends": ["queue_job_sh"],
            "installable": True,
        }
    ),
    "models.py": """
from odoo import models


class QueueJobShIpChange(models.AbstractModel):
    _inherit = "queue.job.sh.ip.change"

    def _on_ip_change(self, old, new):
        super()._on_ip_change(old, new)
        self.env.cr.execute(
            "INSERT INTO ir_config_parameter (key, value) "
            "VALUES ('ip_hook_probe.calls', %s) ON CONFLICT (key) DO UPDATE "
            "SET value = ir_config_parameter.value || ' ' || EXCLUDED.value",
            (f"{old}>{new}",),
        )
""",
}


def change(number):
    """The ``number``-th change of the flood: A -> B, B -> A, A -> B..."""
    return (A, B) if number % 2 == 0 else (B, A)


def notify(server, old, new):
    response = requests.get(
        f"http://127.0.0.1:{server.port}/_odoo.sh/ip-change",
        params={"ip": new, "old": old},
        headers={"Connection": "close"},  # each request may reach any worker
        timeout=60,
    )
    return response.status_code, response.headers.get("Retry-After")


def flood(server, at_once=True):
    """Two clients send each change of the flood at the same time
    (``at_once``), or one after the other; the answers, as (status,
    Retry-After), in the order of the changes."""
    answers = [[None, None] for _pair in range(PAIRS)]
    barrier = threading.Barrier(2)
    one_after_the_other = threading.Lock()

    def client(index):
        for number in range(PAIRS):
            barrier.wait(timeout=120)
            if at_once:
                answers[number][index] = notify(server, *change(number))
                continue
            with one_after_the_other:
                answers[number][index] = notify(server, *change(number))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [answer for pair in answers for answer in pair]


def params(db):
    """What the notifications recorded (the webhooks' key, made at install,
    left out)."""
    return dict(
        sql(
            db,
            "SELECT key, value FROM ir_config_parameter "
            "WHERE key LIKE 'queue_job_sh.ip_change.%%' "
            "AND key != 'queue_job_sh.ip_change.webhook_secret'",
        )
    )


def jobs(db):
    return sql(
        db,
        "SELECT state, count(*) FROM queue_job "
        "WHERE method_name = '_react_to_ip_change' GROUP BY state",
    )


def messages(db):
    """The administrators' messages about a change, oldest first."""
    return [
        body
        for (body,) in sql(
            db,
            "SELECT body FROM mail_message WHERE subject ILIKE '%%IP address%%' "
            "ORDER BY id",
        )
    ]


def all_jobs_done(db, count):
    wait_until(
        lambda: jobs(db) == [("done", count)],
        timeout=120,
        message=f"{count} reaction job(s) done",
    )


def ip_change_workers(server):
    """The pids of the processes whose log shows an ip-change request."""
    return {
        line.split()[2]
        for line in server.log.read_text().splitlines()
        if " werkzeug: " in line and "/_odoo.sh/ip-change" in line
    }


@pytest.fixture
def start(db, servers, monkeypatch, tmp_path):
    """Start a prefork server with ``ODOO_STAGE=stage`` (None: unset); with
    ``hook_probe``, the hook probe addon is installed first."""
    monkeypatch.delenv("ODOO_STAGE", raising=False)
    config = tmp_path / "odoo.conf"
    config.write_text(f"[options]\n\n[queue_job_sh]\nip_change_interval = {INTERVAL}\n")

    def start(stage, hook_probe=False):
        args = []
        if hook_probe:
            args = [install_hook_probe(db, tmp_path / "addons")]
        server = OdooServer(
            db,
            *args,
            f"--config={config}",
            "--workers=2",
            "--max-cron-threads=1",
            # prefork's longpolling server: not 8072, other servers may run
            f"--gevent-port={free_port()}",
            env={"ODOO_STAGE": stage} if stage else {},
            name=stage or "no-stage",
        ).start()
        servers.append(server)
        wait_until(lambda: _answers(server), timeout=90, message="the server answers")
        return server

    return start


def install_hook_probe(db, folder):
    """Install the hook probe addon from ``folder``; the option that adds
    it to the addons path."""
    probe = folder / "ip_hook_probe"
    probe.mkdir(parents=True)
    for name, text in HOOK_PROBE.items():
        (probe / name).write_text(text)
    addons = f"--addons-path={addons_path()},{folder}"
    run_odoo(db, addons, "-i", "ip_hook_probe")
    return addons


def hook_calls(db):
    """What the probe's hook received, as "old>new", in order."""
    rows = sql(
        db,
        "SELECT value FROM ir_config_parameter WHERE key = 'ip_hook_probe.calls'",
    )
    return rows[0][0].split() if rows else []


def raw_get(server, target):
    """GET ``target`` as the request line has it (no client library
    re-quotes or normalizes it); the status."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("GET", target, headers={"Connection": "close"})
        return connection.getresponse().status
    finally:
        connection.close()


def _answers(server):
    try:
        return requests.get(f"http://127.0.0.1:{server.port}/web/health", timeout=5).ok
    except requests.ConnectionError:
        return False


def bad_requests(server):
    """Invalid notifications: 400 on an open route, nothing recorded."""
    url = f"http://127.0.0.1:{server.port}/_odoo.sh/ip-change"
    return [
        requests.get(url, params=query, timeout=60).status_code
        for query in ({"ip": "not-an-ip", "old": A}, {"ip": B}, {"ip": A, "old": A})
    ]


def test_no_stage_route_is_off(db, start):
    server = start(None)
    assert bad_requests(server) == [404] * 3
    answers = flood(server)
    assert [status for status, _retry in answers] == [404] * 2 * PAIRS
    assert params(db) == {}
    assert jobs(db) == []
    assert messages(db) == []
    assert not server.errors()


def test_staging_records_one_change_per_interval(db, start):
    server = start("staging")
    assert bad_requests(server) == [400] * 3
    assert params(db) == {}
    answers = flood(server)
    statuses = [status for status, _retry in answers]
    # the first change only; the other 99 are refused, its duplicate included
    assert statuses.count(200) == 1
    assert statuses.index(200) in (0, 1)
    assert statuses.count(429) == 2 * PAIRS - 1
    assert all(
        INTERVAL - 120 < int(retry) <= INTERVAL
        for status, retry in answers
        if status == 429
    )
    recorded = params(db)
    assert recorded[SIMULATION_CURRENT] == B
    assert recorded["queue_job_sh.ip_change.simulation.refused"] == "99"
    assert PRODUCTION_CURRENT not in recorded
    all_jobs_done(db, 1)
    assert len(messages(db)) == 1
    # the interval is over: the next change is recorded, and its message
    # counts the refusals
    sql(
        db,
        "UPDATE ir_config_parameter SET value = "
        "to_char(now() at time zone 'UTC' - %s * interval '1 second', "
        "'YYYY-MM-DD HH24:MI:SS') WHERE key = %s",
        (INTERVAL, SIMULATION_DATE),
    )
    assert notify(server, B, A) == (200, None)
    all_jobs_done(db, 2)
    last = messages(db)[-1]
    assert "Since the previous simulation, 99 change(s) were refused" in last
    assert "queue_job_sh.ip_change.simulation.refused" not in params(db)
    # the flood reached both HTTP workers
    assert len(ip_change_workers(server)) == 2
    assert not server.errors()


def test_production(db, start):
    """Only the exact path; public addresses only; at most 3 changes a day,
    each with the address recorded before as the hook's old one."""
    server = start("production", hook_probe=True)
    assert bad_requests(server) == [400] * 3
    query = urlencode({"ip": B, "old": A})
    assert [raw_get(server, f"{path}?{query}") for path in PATH_VARIANTS] == [
        404
    ] * len(PATH_VARIANTS)
    url = f"http://127.0.0.1:{server.port}/_odoo.sh/ip-change"
    for address in LOCAL_ADDRESSES:
        for query_params in ({"ip": address, "old": A}, {"ip": B, "old": address}):
            response = requests.get(url, params=query_params, timeout=60)
            assert response.status_code == 400
            assert response.text.endswith("is not a globally routable address")
    assert params(db) == {}
    assert jobs(db) == []
    # Not at once: two identical notifications at the same time are
    # serialized by a lock, and the second one is retried by Odoo after
    # sleeping up to 2 s (TestIpChangeConcurrency); Odoo.sh sends one.
    answers = flood(server, at_once=False)
    statuses = [status for status, _retry in answers]
    # the first 3 changes, each with its duplicate (answered ok, ignored);
    # then every change to B, the recorded address, is a repeat (ok), and
    # every change to A is refused
    assert statuses[: 2 * PRODUCTION_LIMIT] == [200] * 2 * PRODUCTION_LIMIT
    expected = [200 if change(number)[1] == B else 429 for number in range(3, PAIRS)]
    assert statuses[2 * PRODUCTION_LIMIT :] == [
        status for status in expected for _duplicate in range(2)
    ]
    assert all(
        24 * 3600 - 120 < int(retry) <= 24 * 3600
        for status, retry in answers
        if status == 429
    )
    recorded = params(db)
    assert recorded[PRODUCTION_CURRENT] == B
    assert recorded[PRODUCTION_REFUSED] == str(statuses.count(429))
    all_jobs_done(db, PRODUCTION_LIMIT)
    bodies = messages(db)
    # one message per change, in order, with the address recorded before
    assert [re.search(r"from (.+) to (\S+) at", body).groups() for body in bodies] == [
        ("none recorded", B),
        (B, A),
        (A, B),
    ]
    assert hook_calls(db) == [f"None>{B}", f"{B}>{A}", f"{A}>{B}"]
    assert len(ip_change_workers(server)) == 2
    assert not server.errors()
