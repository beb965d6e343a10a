# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``/_odoo.sh/ip-change`` flooded on a real prefork server (two HTTP
workers, one cron worker that runs the jobs): 100 unauthenticated
notifications alternating two addresses, each change sent twice, per
``ODOO_STAGE``. Counted: answers, recorded parameters, jobs, messages."""

import re
import threading

import pytest
import requests
from conftest import OdooServer, free_port, sql, wait_until

A, B = "198.51.100.1", "203.0.113.7"
PAIRS = 50  # 100 requests: each change is sent twice
PRODUCTION_CURRENT = "queue_job_sh.ip_change.current"
SIMULATION_CURRENT = "queue_job_sh.ip_change.simulation.current"
SIMULATION_DATE = "queue_job_sh.ip_change.simulation.date"
INTERVAL = 3600  # from the configuration file, so that no change is due


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
    return dict(
        sql(
            db,
            "SELECT key, value FROM ir_config_parameter "
            "WHERE key LIKE 'queue_job_sh.ip_change.%%'",
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
    """Start a prefork server with ``ODOO_STAGE=stage`` (None: unset)."""
    monkeypatch.delenv("ODOO_STAGE", raising=False)
    config = tmp_path / "odoo.conf"
    config.write_text(f"[options]\n\n[queue_job_sh]\nip_change_interval = {INTERVAL}\n")

    def start(stage):
        server = OdooServer(
            db,
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


def test_production_records_every_change(db, start):
    server = start("production")
    assert bad_requests(server) == [400] * 3
    assert params(db) == {}
    # Not at once: two identical notifications at the same time are
    # serialized by a lock, and the second one is retried by Odoo after
    # sleeping up to 2 s (TestIpChangeConcurrency); Odoo.sh sends one.
    answers = flood(server, at_once=False)
    # each change once, its duplicate answered ok and ignored
    assert answers == [(200, None)] * 2 * PAIRS
    assert params(db)[PRODUCTION_CURRENT] == change(PAIRS - 1)[1]
    all_jobs_done(db, PAIRS)
    bodies = messages(db)
    assert len(bodies) == PAIRS
    # one message per change, in order
    assert [re.search(r"from (\S+) to (\S+) at", body).groups() for body in bodies] == [
        change(number) for number in range(PAIRS)
    ]
    assert len(ip_change_workers(server)) == 2
    assert not server.errors()
