# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``/queue_job_sh/health`` and ``/queue_job_sh/metrics`` on a real prefork
server (``--workers=2``; every request on a connection of its own, so that
any worker answers it).

One server serves two databases, chosen by the request's host
(``--db-filter=^%d$``): each answers with its own token only, and a refused
request gets the same bytes whether its database exists or not. The
unhealthy conditions are made in the database (SQL from this process, or a
lock held on a connection of the test, as queue_job's jobrunner holds it).
"""

import json
import time
import uuid
from datetime import datetime

import psycopg2
import pytest
import requests
from conftest import (
    OdooServer,
    _create,
    _drop,
    free_port,
    odoo_shell,
    sql,
    wait_until,
)
from prometheus_client.parser import text_string_to_metric_families

from odoo.addons.queue_job.jobrunner.runner import PG_ADVISORY_LOCK_ID

TOKEN_PARAM = "queue_job_sh.monitoring_token"
NO_PASS_PARAM = "queue_job_sh.health.no_pass_minutes"
CHANNELS = "root:2,root.qjsh_paused:1:paused"
RUNNER_CRONS = "cron_name LIKE 'Job Queue: runner%%'"


@pytest.fixture(autouse=True)
def _no_stage(monkeypatch):
    """Not on Odoo.sh: runner passes end when the queue is empty."""
    monkeypatch.delenv("ODOO_STAGE", raising=False)


def set_param(db, key, value):
    sql(
        db,
        "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (key, value),
    )


def insert_job(db, channel, state="pending", age=0, started_age=None):
    """A job created ``age`` seconds ago (rows as the Runners screen's tests
    insert them: queue_job's create is its Job API's)."""
    sql(
        db,
        """
        INSERT INTO queue_job (uuid, user_id, company_id, state, name,
                               model_name, method_name, channel, priority,
                               retry, max_retries, date_created, date_started)
        VALUES (%s, 1, 1, %s, 'monitored job', 'res.partner', 'exists', %s, 10,
                0, 5, (now() AT TIME ZONE 'UTC') - make_interval(secs => %s),
                (now() AT TIME ZONE 'UTC') - make_interval(secs => %s))
        """,
        (str(uuid.uuid4()), state, channel, age, started_age),
    )


def insert_pass(db, started_age, ended_age):
    sql(
        db,
        """
        INSERT INTO queue_job_sh_pass (cron_id, pid, started_at, ended_at,
                                       end_reason, done_count, failed_count,
                                       retried_count, recovered_count)
        SELECT id, 4242, (now() AT TIME ZONE 'UTC') - make_interval(secs => %s),
               (now() AT TIME ZONE 'UTC') - make_interval(secs => %s),
               'queue_empty', 1, 0, 0, 0
          FROM ir_cron WHERE cron_name LIKE 'Job Queue: runner%%'
         ORDER BY id LIMIT 1
        """,
        (started_age, ended_age),
    )


def answer(response):
    """A response's status, headers (but its date) and body, hashable."""
    headers = tuple(
        (name, value) for name, value in response.headers.items() if name != "Date"
    )
    return response.status_code, headers, response.content


class Client:
    """Requests to one server, for the database ``db`` (by its host)."""

    def __init__(self, server, db, token):
        self.server = server
        self.db = db
        self.token = token

    def get(self, path, token=None, method="GET", query=None, host=None):
        headers = {
            "Host": f"{host or self.db}.localhost",
            "Connection": "close",  # each request may reach any worker
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(
            method,
            f"http://127.0.0.1:{self.server.port}{path}",
            params=query,
            headers=headers,
            timeout=60,
        )

    def health(self):
        response = self.get("/queue_job_sh/health", self.token)
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        return response.status_code, response.json()

    def problems(self):
        """The codes and messages of the problems health reports (503)."""
        status, body = self.health()
        assert (status, body["status"], body["db"]) == (503, "failing", self.db), body
        return {problem["code"]: problem["message"] for problem in body["problems"]}

    def wait_healthy(self):
        def healthy():
            try:
                return self.health() == (200, {"status": "ok", "db": self.db})
            except requests.ConnectionError:
                return False

        wait_until(healthy, timeout=120, message=f"{self.db} healthy")


@pytest.fixture
def two_dbs(db, template_db):
    """``db`` and a second database from the same template, each with its
    own token."""
    second = f"qjsh_it_{uuid.uuid4().hex[:8]}"
    _create(second, template_db)
    tokens = {}
    for name in (db, second):
        tokens[name] = uuid.uuid4().hex + uuid.uuid4().hex
        set_param(name, TOKEN_PARAM, tokens[name])
    yield tokens
    _drop(second)


def start(servers, dbs, tmp_path, *args):
    server = OdooServer(
        ",".join(dbs),
        "--workers=2",
        # the gevent process's own port, not Odoo's default 8072, which
        # another server on the machine may hold
        f"--gevent-port={free_port()}",
        "--db-filter=^%d$",
        f"--data-dir={tmp_path / 'data'}",
        *args,
        env={"ODOO_QUEUE_JOB_CHANNELS": CHANNELS},
        name="monitoring",
    )
    servers.append(server.start())
    return server


def test_health_and_access_on_prefork_server(two_dbs, servers, tmp_path):
    (db, token), (other_db, other_token) = two_dbs.items()
    server = start(servers, two_dbs, tmp_path, "--max-cron-threads=1")
    client = Client(server, db, token)
    other = Client(server, other_db, other_token)
    client.wait_healthy()
    other.wait_healthy()

    # -- refused: no token, a wrong one, the other database's, not a GET;
    # the same answer where the host names no database
    refusals = []
    missing = f"qjsh_it_missing_{uuid.uuid4().hex[:8]}"
    for host in (db, missing):
        for path in ("/queue_job_sh/health", "/queue_job_sh/metrics"):
            for request in (
                {},
                {"token": "wrong"},
                {"token": token[:-1]},
                {"token": other_token},
                {"token": token, "method": "POST"},
                {"query": {"token": "wrong"}},
            ):
                response = client.get(path, host=host, **request)
                refusals.append(((host, path, request), answer(response)))
    # the right token, for a database that does not exist
    response = client.get("/queue_job_sh/health", token, host=missing)
    refusals.append(((missing, "health", "token"), answer(response)))
    assert len(refusals) == 25
    answers = {}
    for request, refusal in refusals:
        answers.setdefault(refusal, []).append(request)
    assert len(answers) == 1, answers
    ((status, headers, content),) = answers
    assert status == 404
    assert b"404 Not Found" in content
    assert not any(name.lower() == "set-cookie" for name, _value in headers)

    # -- opened: by its own token only, as a header or a query parameter
    assert other.get("/queue_job_sh/health", token).status_code == 404
    response = client.get("/queue_job_sh/health", query={"token": token})
    assert (response.status_code, response.json()) == (200, {"status": "ok", "db": db})
    response = client.get("/queue_job_sh/health", token, method="HEAD")
    assert (response.status_code, response.content) == (200, b"")
    for response in (
        client.get("/queue_job_sh/metrics", token),
        other.get("/queue_job_sh/metrics", other_token),
    ):
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
    # no session written, by any request
    sessions = tmp_path / "data" / "sessions"
    assert not sessions.exists() or not any(p.is_file() for p in sessions.rglob("*"))

    # -- a channel paused with ready jobs past the threshold (30 min); a
    # pass started lately, so that only the channel is the problem
    insert_pass(db, started_age=60, ended_age=59)
    insert_job(db, "root.qjsh_paused", age=40 * 60)
    problems = client.problems()
    assert list(problems) == ["ready_jobs_waiting"]
    assert "root.qjsh_paused (oldest: 40 min, paused)" in problems["ready_jobs_waiting"]
    assert other.health()[0] == 200  # the other database is fine
    sql(db, "DELETE FROM queue_job WHERE channel = 'root.qjsh_paused'")
    assert client.health()[0] == 200

    # -- queue_job's HTTP jobrunner on the database: it holds this lock
    conn = psycopg2.connect(dbname=db)
    try:
        conn.autocommit = True
        with conn.cursor() as cr:
            cr.execute("SELECT pg_advisory_lock(%s)", (PG_ADVISORY_LOCK_ID,))
        problems = client.problems()
        assert list(problems) == ["http_jobrunner_active"]
        assert "HTTP jobrunner is active" in problems["http_jobrunner_active"]
    finally:
        conn.close()
    assert client.health()[0] == 200

    # -- runner crons deactivated
    sql(db, f"UPDATE ir_cron SET active = false WHERE {RUNNER_CRONS}")
    problems = client.problems()
    assert list(problems) == ["runner_crons_inactive"]
    assert "Runner crons inactive" in problems["runner_crons_inactive"]
    sql(db, f"UPDATE ir_cron SET active = true WHERE {RUNNER_CRONS}")
    assert client.health()[0] == 200
    assert not server.errors()


def test_no_pass_with_jobs_ready(db, servers, tmp_path):
    """No cron worker: jobs ready and no pass for longer than the setting
    (5 minutes here)."""
    token = uuid.uuid4().hex
    set_param(db, TOKEN_PARAM, token)
    set_param(db, NO_PASS_PARAM, "5")
    sql(db, "DELETE FROM queue_job_sh_pass")
    insert_pass(db, started_age=600, ended_age=590)
    server = start(servers, [db], tmp_path, "--max-cron-threads=0")
    client = Client(server, db, token)
    client.wait_healthy()  # nothing ready: nothing to run
    insert_job(db, "root", age=5)
    problems = client.problems()
    assert list(problems) == ["no_recent_pass"]
    assert "no runner pass started in the last 5 minutes" in problems["no_recent_pass"]
    insert_pass(db, started_age=120, ended_age=119)
    assert client.health()[0] == 200
    assert not server.errors()


SCREEN = """
import json
stats = env["queue.job.sh.channel.stat"].search([])
env.cr.execute("SELECT now() AT TIME ZONE 'UTC'")
print("SCREEN" + json.dumps({
    "now": str(env.cr.fetchone()[0]),
    "data": env["queue.job.sh.dashboard"].get_dashboard_data(),
    "channels": {
        stat.name: {field: stat[field] for field in (
            "capacity", "paused", "running", "ready", "waiting",
            "waiting_dependencies", "failed", "oldest_ready_seconds")}
        for stat in stats
    },
}))
"""


def test_metrics_equal_the_runners_screen(db, servers, tmp_path):
    """The scrape parses with Prometheus' reference parser, and its figures
    are the Runners screen's (read in another process, a few seconds later:
    ages may have grown by that much, counts are equal)."""
    token = uuid.uuid4().hex
    set_param(db, TOKEN_PARAM, token)
    sql(db, "DELETE FROM queue_job")
    for age in (300, 100):
        insert_job(db, "root.qjsh_a", age=age)
    insert_job(db, "root.qjsh_a", state="started", age=40, started_age=30)
    insert_job(db, "root.qjsh_a", state="failed", age=5000)
    insert_job(db, "root.qjsh_a", state="wait_dependencies", age=50)
    insert_job(db, "root.qjsh_paused", age=120)
    insert_job(db, 'root.odd"name\\with\nbreaks', age=20)
    insert_pass(db, started_age=60, ended_age=55)
    server = start(servers, [db], tmp_path, "--max-cron-threads=0")
    client = Client(server, db, token)
    client.wait_healthy()

    before = time.monotonic()
    response = client.get("/queue_job_sh/metrics", token)
    assert response.status_code == 200
    assert (
        response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    )
    output = odoo_shell(db, SCREEN, env={"ODOO_QUEUE_JOB_CHANNELS": CHANNELS})
    elapsed = time.monotonic() - before
    screen = json.loads(output.split("SCREEN", 1)[1].splitlines()[0])
    summary = screen["data"]["summary"]

    samples = {}
    for family in text_string_to_metric_families(response.text):
        assert family.type == "gauge"
        for sample in family.samples:
            labels = dict(sample.labels)
            assert labels.pop("db") == db
            samples[(sample.name, *labels.values())] = sample.value

    assert set(screen["channels"]) >= {
        "root",
        "root.qjsh_a",
        "root.qjsh_paused",
        'root.odd"name\\with\nbreaks',
    }
    for channel, figures in screen["channels"].items():
        for metric, field in (
            ("capacity", "capacity"),
            ("paused", "paused"),
            ("running", "running"),
            ("ready", "ready"),
            ("waiting_eta", "waiting"),
            ("waiting_dependencies", "waiting_dependencies"),
            ("failed", "failed"),
        ):
            assert (
                samples.pop((f"queue_job_channel_{metric}", channel)) == figures[field]
            ), (metric, channel)
        age = samples.pop(("queue_job_channel_oldest_ready_age_seconds", channel))
        assert 0 <= figures["oldest_ready_seconds"] - age <= elapsed + 1, channel
    assert screen["channels"]["root.qjsh_a"]["ready"] == 2
    assert screen["channels"]["root.qjsh_paused"]["paused"] is True

    assert samples.pop(("queue_job_done_last_hour",)) == summary["done_last_hour"]
    assert samples.pop(("queue_job_sh_runner_crons",)) == summary["runners"]
    assert (
        samples.pop(("queue_job_sh_runner_crons_active",)) == summary["runners_active"]
    )
    assert (
        samples.pop(("queue_job_sh_runner_crons_running",)) == summary["running_passes"]
    )
    last_pass = datetime.fromisoformat(summary["last_pass_at"])
    screen_age = (datetime.fromisoformat(screen["now"]) - last_pass).total_seconds()
    age = samples.pop(("queue_job_sh_last_pass_age_seconds",))
    assert 0 <= screen_age - age <= elapsed + 1
    codes = {}
    for warning in screen["data"]["warnings"]:
        key = ("queue_job_sh_health_warnings", warning["code"], warning["level"])
        codes[key] = codes.get(key, 0) + 1
    assert codes == {
        key: samples.pop(key)
        for key in list(samples)
        if key[0] == "queue_job_sh_health_warnings"
    }
    failing = [w for w in screen["data"]["warnings"] if w["level"] != "info"]
    assert samples.pop(("queue_job_sh_up",)) == (0 if failing else 1)
    # the started job: 10 s of latency, in the last 15 minutes
    assert samples.pop(("queue_job_start_latency_p50_seconds",)) == 10
    assert samples.pop(("queue_job_start_latency_p95_seconds",)) == 10
    assert samples == {
        ("queue_job_done_last_minute",): 0,
        ("queue_job_failed_last_minute",): 0,
        ("queue_job_failed_last_hour",): 0,
        ("queue_job_retried_last_minute",): 0,
        ("queue_job_retried_last_hour",): 0,
    }
    assert not server.errors()
