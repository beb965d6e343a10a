# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``/_odoo.sh/ip-change``: the real route, the real jobs, a real webhook.

Requests go to the test HTTP server (``HttpCase``). The jobs run as
queue_job's ``/queue_job/runjob`` route runs them (``_acquire_job`` then
``_runjob``), on a test cursor. Webhooks reach a real HTTP server listening
on 127.0.0.1 in a thread of the test process.
"""

import json
import logging
import os
import socket
import sys
import threading
import traceback
from collections import deque
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest.mock import patch
from urllib.parse import urlencode

import psycopg2

from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import ValidationError
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.sql_db import db_connect
from odoo.tests import HttpCase, TransactionCase, tagged
from odoo.tools import SQL, mute_logger

from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job

from ..models.queue_job_sh_ip_change import (
    PRODUCTION_PARAMS,
    SIMULATION_PARAMS,
    SIMULATION_REFUSED_PARAM,
    WEBHOOK_ON_SIMULATION_PARAM,
    WEBHOOK_URLS_PARAM,
    QueueJobShIpChange,
)

ROUTE = "/_odoo.sh/ip-change"
MODEL = "queue.job.sh.ip.change"
MODEL_LOGGER = "odoo.addons.queue_job_sh.models.queue_job_sh_ip_change"
QUEUE_JOB_CONTROLLER_LOGGER = "odoo.addons.queue_job.controllers.main"
OLD, NEW = "198.51.100.1", "203.0.113.7"
WITHOUT_STAGE_ENV = "ODOO_QUEUE_JOB_SH_IP_CHANGE_WITHOUT_STAGE"
INTERVAL_ENV = "ODOO_QUEUE_JOB_SH_IP_CHANGE_INTERVAL"


class WebhookServer:
    """A real HTTP server on 127.0.0.1 that records what it receives and
    answers the statuses queued in ``statuses`` (then 200)."""

    def __init__(self):
        self.requests = []
        self.statuses = deque()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                server.requests.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "body": self.rfile.read(length),
                    }
                )
                status = server.statuses.popleft() if server.statuses else 200
                body = b"received" if status < 400 else b"no such hook, sorry"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reset(self):
        self.requests.clear()
        self.statuses.clear()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def spy_hook(test, name, side_effect=None):
    """Record the calls of the extension point ``name`` during ``test``, as
    an addon overriding it would see them; raise ``side_effect`` if any."""
    calls = []

    def hook(model, old, new):
        calls.append((old, new))
        if side_effect:
            raise side_effect

    patcher = patch.object(QueueJobShIpChange, name, hook)
    patcher.start()
    test.addCleanup(patcher.stop)
    return calls


def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


@tagged("post_install", "-at_install")
class TestIpChange(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.webhook = WebhookServer()
        cls.addClassCleanup(cls.webhook.stop)
        cls.admin = cls.env.ref("base.user_admin")

    def setUp(self):
        super().setUp()
        environ = patch.dict(os.environ)
        environ.start()
        self.addCleanup(environ.stop)
        for name in ("ODOO_STAGE", WITHOUT_STAGE_ENV, INTERVAL_ENV):
            os.environ.pop(name, None)
        self.webhook.reset()
        # every test starts from an empty queue and nothing recorded
        self.env["queue.job"].search([]).unlink()
        self.env["ir.config_parameter"].search(
            [("key", "=like", "queue_job_sh.ip_change.%")]
        ).unlink()

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------
    def set_stage(self, stage):
        os.environ["ODOO_STAGE"] = stage

    def set_param(self, key, value):
        self.env["ir.config_parameter"].set_param(key, value)
        self.env.flush_all()

    def let_interval_pass(self, seconds=60):
        """Time passes: the last simulated change is ``seconds`` old."""
        at = fields.Datetime.now() - timedelta(seconds=seconds)
        self.set_param(SIMULATION_PARAMS.date, fields.Datetime.to_string(at))

    def assertTooFrequent(self, response, retry_after=60):
        self.assertEqual(response.status_code, 429, response.text)
        self.assertIn("too frequent", response.text)
        # rounded up to the second
        self.assertIn(
            int(response.headers["Retry-After"]), (retry_after - 1, retry_after)
        )

    def call(self, query, **kwargs):
        """GET the route with ``query`` (a dict or a list of pairs)."""
        url = ROUTE + "?" + (query if isinstance(query, str) else urlencode(query))
        response = self.url_open(url, **kwargs)
        self.env.invalidate_all()
        self.env.registry.clear_cache()
        return response

    def assertOk(self, response):
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.text, "ok")
        self.assertTrue(response.headers["Content-Type"].startswith("text/plain"))
        # save_session=False: no session is written, no cookie is sent
        self.assertNotIn("Set-Cookie", response.headers)

    def recorded(self, params):
        get_param = self.env["ir.config_parameter"].get_param
        return tuple(get_param(key) or None for key in params)

    def jobs(self, method):
        return self.env["queue.job"].search(
            [("model_name", "=", MODEL), ("method_name", "=", method)],
            order="id",
        )

    def run_job(self, record):
        """Run a job as queue_job's ``/queue_job/runjob`` route does.

        For jobs that succeed: queue_job stores a retry or a failure from a
        cursor of its own, which the test cursors nest in the job's, so the
        job's rollback would discard it (see ``TestIpChangeRetries``).
        """
        self.env.flush_all()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            job = Job.load(env, record.uuid)
            job.set_enqueued()
            job.store()
            env.flush_all()
            job = RunJobController._acquire_job(env, record.uuid)
            self.assertTrue(job, "the job could not be acquired")
            RunJobController._runjob(env, job)
        self.env.invalidate_all()

    def admin_messages(self):
        return self.env["mail.message"].search(
            [
                ("partner_ids", "in", self.admin.partner_id.id),
                ("subject", "ilike", "IP address"),
            ]
        )

    # ------------------------------------------------------------------
    # The route
    # ------------------------------------------------------------------
    def test_production_ipv4_with_ip(self):
        self.set_stage("production")
        with self.assertLogs(MODEL_LOGGER, logging.INFO) as logs:
            response = self.call({"ip": NEW, "old": OLD})
        self.assertOk(response)
        self.assertIn(f"IP address changed from {OLD} to {NEW}", logs.output[0])
        current, previous, date = self.recorded(PRODUCTION_PARAMS)
        self.assertEqual((current, previous), (NEW, OLD))
        self.assertAlmostEqual(
            fields.Datetime.from_string(date),
            fields.Datetime.now(),
            delta=timedelta(minutes=1),
        )
        self.assertEqual(self.recorded(SIMULATION_PARAMS), (None, None, None))
        job = self.jobs("_react_to_ip_change")
        self.assertRecordValues(
            job,
            [
                {
                    "state": "pending",
                    "channel": "root.ip_change",
                    "user_id": SUPERUSER_ID,
                    "name": f"Odoo.sh IP change: {OLD} → {NEW}",
                }
            ],
        )
        self.assertEqual(job.args, [OLD, NEW, date, "production", 0])

    def test_production_ipv6_with_new(self):
        self.set_stage("production")
        self.assertOk(self.call({"new": "2001:DB8:0::7", "old": "2001:db8::1"}))
        # stored in the canonical form
        self.assertEqual(
            self.recorded(PRODUCTION_PARAMS)[:2], ("2001:db8::7", "2001:db8::1")
        )
        self.assertEqual(len(self.jobs("_react_to_ip_change")), 1)

    def test_ip_and_new_together(self):
        self.set_stage("production")
        self.assertOk(self.call({"ip": NEW, "new": NEW, "old": OLD}))
        self.assertEqual(self.recorded(PRODUCTION_PARAMS)[0], NEW)

    def test_invalid_requests(self):
        self.set_stage("production")
        cases = [
            ({"old": OLD}, "missing new address"),
            ({"ip": NEW}, "missing old address"),
            ({"ip": "", "old": OLD}, "missing new address"),
            ({}, "missing new address"),
            ({"ip": "256.1.1.1", "old": OLD}, "ip is not an IPv4 or IPv6 address"),
            ({"new": "example.com", "old": OLD}, "new is not an IPv4 or IPv6"),
            ({"ip": NEW, "old": "1.2.3"}, "old is not an IPv4 or IPv6 address"),
            ({"ip": "fe80::1%eth0", "old": OLD}, "ip is not an IPv4 or IPv6"),
            ({"ip": "1" * 65, "old": OLD}, "ip is too long"),
            ({"ip": NEW, "old": "a" * 5000}, "old is too long"),
            ({"ip": NEW, "new": "203.0.113.8", "old": OLD}, "ip and new differ"),
            ([("ip", NEW), ("ip", OLD), ("old", OLD)], "ip given more than once"),
            ({"ip": NEW, "old": NEW}, "old and new are the same address"),
            ("ip=%00&old=" + OLD, "ip is not an IPv4 or IPv6 address"),
            ("ip=%ff%fe&old=" + OLD, "ip is not an IPv4 or IPv6 address"),
            ("ip=203.0.113.7%0a1&old=" + OLD, "ip is not an IPv4 or IPv6"),
        ]
        for query, reason in cases:
            with self.subTest(query=query):
                response = self.call(query)
                self.assertEqual(response.status_code, 400)
                self.assertTrue(
                    response.headers["Content-Type"].startswith("text/plain")
                )
                self.assertIn(reason, response.text)
                self.assertLess(len(response.text), 80)
        self.assertEqual(self.recorded(PRODUCTION_PARAMS), (None, None, None))
        self.assertEqual(self.recorded(SIMULATION_PARAMS), (None, None, None))
        self.assertFalse(self.env["queue.job"].search([]))

    def test_get_only(self):
        self.set_stage("production")
        query = urlencode({"ip": NEW, "old": OLD})
        self.assertEqual(
            self.opener.head(f"{self.base_url()}{ROUTE}?{query}").status_code, 405
        )
        response = self.opener.post(
            f"{self.base_url()}{ROUTE}?{query}", data={"ip": NEW, "old": OLD}
        )
        self.assertEqual(response.status_code, 405)
        self.env.invalidate_all()
        self.assertEqual(self.recorded(PRODUCTION_PARAMS), (None, None, None))
        self.assertFalse(self.env["queue.job"].search([]))

    def test_repeated_calls_enqueue_one_job(self):
        self.set_stage("production")
        for _attempt in range(3):
            self.assertOk(self.call({"ip": NEW, "old": OLD}))
        self.assertEqual(len(self.jobs("_react_to_ip_change")), 1)
        date = self.recorded(PRODUCTION_PARAMS)[2]
        # a call with another old address but the current new one: no change
        with self.assertLogs(MODEL_LOGGER, logging.INFO) as logs:
            self.assertOk(self.call({"ip": NEW, "old": "192.0.2.1"}))
        self.assertIn("already recorded, ignored", logs.output[0])
        self.assertEqual(self.recorded(PRODUCTION_PARAMS), (NEW, OLD, date))
        self.assertEqual(len(self.jobs("_react_to_ip_change")), 1)
        # back and forth while the first job is still pending: each change
        # is a job of its own, in order
        self.assertOk(self.call({"ip": OLD, "old": NEW}))
        self.assertOk(self.call({"ip": NEW, "old": OLD}))
        jobs = self.jobs("_react_to_ip_change")
        self.assertEqual(
            [job.args[:2] for job in jobs], [[OLD, NEW], [NEW, OLD], [OLD, NEW]]
        )
        self.assertEqual(jobs.mapped("state"), ["pending"] * 3)

    # ------------------------------------------------------------------
    # The reactions
    # ------------------------------------------------------------------
    def test_production_reactions(self):
        self.set_stage("production")
        self.set_param(WEBHOOK_URLS_PARAM, f"{self.webhook.url}/hook")
        # a simulation-only setting has no effect on production
        self.set_param(WEBHOOK_ON_SIMULATION_PARAM, "False")
        hook_calls = spy_hook(self, "_on_ip_change")
        simulation_calls = spy_hook(self, "_on_ip_change_simulation")
        self.assertOk(self.call({"ip": NEW, "old": OLD}))
        at = self.recorded(PRODUCTION_PARAMS)[2]
        reaction = self.jobs("_react_to_ip_change")
        self.run_job(reaction)
        self.assertEqual(reaction.state, "done")
        self.assertEqual(hook_calls, [(OLD, NEW)])
        self.assertEqual(simulation_calls, [])
        # the administrators got a message (Inbox or email)
        message = self.admin_messages()
        self.assertEqual(len(message), 1)
        self.assertEqual(message.subject, "Odoo.sh: the IP address changed")
        self.assertIn(f"from {OLD} to {NEW}", message.body)
        self.assertEqual(message.author_id, self.env.ref("base.partner_root"))
        self.assertIn(self.admin.partner_id, message.notification_ids.res_partner_id)
        self.assertNotIn(self.env.ref("base.partner_root"), message.partner_ids)
        # the webhook is a job of its own
        webhook = self.jobs("_send_ip_change_webhook")
        self.assertRecordValues(
            webhook, [{"state": "pending", "max_retries": 10, "retry": 0}]
        )
        self.assertEqual(self.webhook.requests, [])
        self.run_job(webhook)
        self.assertEqual(webhook.state, "done")
        self.assertIn("answered HTTP 200", webhook.result)
        [received] = self.webhook.requests
        self.assertEqual(received["path"], "/hook")
        self.assertEqual(received["content_type"], "application/json")
        self.assertEqual(
            json.loads(received["body"]),
            {
                "db": self.env.cr.dbname,
                "stage": "production",
                "old": OLD,
                "new": NEW,
                "at": fields.Datetime.from_string(at).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )

    def test_staging_is_a_simulation(self):
        self.set_stage("staging")
        self.set_param(WEBHOOK_URLS_PARAM, f"{self.webhook.url}/hook")
        hook_calls = spy_hook(self, "_on_ip_change")
        simulation_calls = spy_hook(self, "_on_ip_change_simulation")
        with self.assertLogs(MODEL_LOGGER, logging.INFO) as logs:
            self.assertOk(self.call({"ip": NEW, "old": OLD}))
        self.assertIn(
            f"Simulation of IP address change from {OLD} to {NEW} (stage 'staging')",
            logs.output[0],
        )
        self.assertEqual(self.recorded(PRODUCTION_PARAMS), (None, None, None))
        self.assertEqual(self.recorded(SIMULATION_PARAMS)[:2], (NEW, OLD))
        reaction = self.jobs("_react_to_ip_change")
        self.assertIn("simulation (staging)", reaction.name)
        self.run_job(reaction)
        self.assertEqual((hook_calls, simulation_calls), ([], [(OLD, NEW)]))
        message = self.admin_messages()
        self.assertEqual(
            message.subject, "Simulation: Odoo.sh IP address change (staging)"
        )
        self.assertIn("Nothing changed on production", message.body)
        # webhooks only when explicitly allowed on this stage
        self.assertFalse(self.jobs("_send_ip_change_webhook"))
        self.set_param(WEBHOOK_ON_SIMULATION_PARAM, "True")
        self.let_interval_pass()
        self.assertOk(self.call({"ip": "203.0.113.9", "old": NEW}))
        self.run_job(self.jobs("_react_to_ip_change")[-1:])
        webhook = self.jobs("_send_ip_change_webhook")
        self.run_job(webhook)
        self.assertEqual(webhook.state, "done")
        body = json.loads(self.webhook.requests[0]["body"])
        self.assertEqual(
            (body["stage"], body["old"], body["new"]),
            ("staging", NEW, "203.0.113.9"),
        )

    def test_off_without_stage(self):
        # a server outside Odoo.sh: nothing guards the route, it is not there
        query = urlencode({"ip": NEW, "old": OLD})
        for response in (
            self.call(query),
            self.call({"ip": "256.1.1.1", "old": OLD}),
            self.opener.head(f"{self.base_url()}{ROUTE}?{query}"),
        ):
            self.assertEqual(response.status_code, 404)
        self.env.invalidate_all()
        self.assertEqual(self.recorded(PRODUCTION_PARAMS), (None, None, None))
        self.assertEqual(self.recorded(SIMULATION_PARAMS), (None, None, None))
        self.assertFalse(self.env["queue.job"].search([]))

    def test_without_stage_setting(self):
        # opened for a test outside Odoo.sh: same as development
        os.environ[WITHOUT_STAGE_ENV] = "1"
        self.assertOk(self.call({"ip": NEW, "old": OLD}))
        self.assertEqual(self.recorded(PRODUCTION_PARAMS), (None, None, None))
        self.assertEqual(self.recorded(SIMULATION_PARAMS)[:2], (NEW, OLD))
        self.assertEqual(self.jobs("_react_to_ip_change").args[3], "")
        self.assertTooFrequent(self.call({"ip": OLD, "old": NEW}))
        os.environ[WITHOUT_STAGE_ENV] = "0"
        self.assertEqual(self.call({"ip": OLD, "old": NEW}).status_code, 404)

    def test_simulation_limit(self):
        """One simulated change per interval; the next message counts the
        refused ones."""
        self.set_stage("development")
        self.assertOk(self.call({"ip": NEW, "old": OLD}))
        recorded = self.recorded(SIMULATION_PARAMS)
        # another change, then the recorded one again: both too soon
        with self.assertLogs(MODEL_LOGGER, logging.INFO) as logs:
            self.assertTooFrequent(self.call({"ip": OLD, "old": NEW}))
        self.assertIn("refused: too frequent", logs.output[0])
        self.assertTooFrequent(self.call({"ip": NEW, "old": OLD}))
        self.let_interval_pass(30)
        self.assertTooFrequent(self.call({"ip": OLD, "old": NEW}), retry_after=30)
        # nothing recorded, nothing enqueued
        self.assertEqual(self.recorded(SIMULATION_PARAMS)[:2], recorded[:2])
        self.assertEqual(len(self.jobs("_react_to_ip_change")), 1)
        get_param = self.env["ir.config_parameter"].get_param
        self.assertEqual(get_param(SIMULATION_REFUSED_PARAM), "3")
        self.run_job(self.jobs("_react_to_ip_change"))
        self.assertNotIn("refused", self.admin_messages().body)
        # the interval is over: recorded, with the count of refusals
        self.let_interval_pass()
        self.assertOk(self.call({"ip": OLD, "old": NEW}))
        self.assertEqual(self.recorded(SIMULATION_PARAMS)[:2], (OLD, NEW))
        self.assertFalse(get_param(SIMULATION_REFUSED_PARAM))
        reaction = self.jobs("_react_to_ip_change")[-1:]
        self.assertEqual(reaction.args[4], 3)
        self.run_job(reaction)
        message = self.admin_messages()[:1]
        self.assertIn(
            "Since the previous simulation, 3 change(s) were refused as too "
            "frequent.",
            message.body,
        )
        # production is not limited
        self.set_stage("production")
        self.assertOk(self.call({"ip": NEW, "old": OLD}))
        self.assertOk(self.call({"ip": OLD, "old": NEW}))
        self.assertEqual(len(self.jobs("_react_to_ip_change")), 4)

    def test_simulation_interval_setting(self):
        self.set_stage("staging")
        os.environ[INTERVAL_ENV] = "600"
        self.assertOk(self.call({"ip": NEW, "old": OLD}))
        self.assertTooFrequent(self.call({"ip": OLD, "old": NEW}), retry_after=600)
        self.let_interval_pass(598)
        self.assertTooFrequent(self.call({"ip": OLD, "old": NEW}), retry_after=2)
        self.let_interval_pass(600)
        self.assertOk(self.call({"ip": OLD, "old": NEW}))
        # an invalid value: said in the log, the default interval applies
        for value in ("soon", "0", "-5", "1.5"):
            with self.subTest(value=value):
                os.environ[INTERVAL_ENV] = value
                with self.assertLogs(MODEL_LOGGER, logging.ERROR) as logs:
                    self.assertTooFrequent(self.call({"ip": NEW, "old": OLD}))
                self.assertIn(
                    f"Invalid queue_job_sh setting ip_change_interval '{value}'",
                    logs.output[0],
                )
        self.assertEqual(len(self.jobs("_react_to_ip_change")), 2)

    # ------------------------------------------------------------------
    # Settings
    # ------------------------------------------------------------------
    def test_settings(self):
        self.set_stage("production")
        self.assertOk(self.call({"ip": NEW, "old": OLD}))
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.queue_job_sh_ip_current, NEW)
        self.assertEqual(settings.queue_job_sh_ip_previous, OLD)
        self.assertEqual(
            settings.queue_job_sh_ip_changed_at,
            fields.Datetime.from_string(self.recorded(PRODUCTION_PARAMS)[2]),
        )
        self.assertFalse(settings.queue_job_sh_ip_simulation_current)
        with self.assertRaisesRegex(ValidationError, "ftp://example.com"):
            self.env["res.config.settings"].create(
                {"queue_job_sh_ip_change_webhook_urls": "ftp://example.com"}
            )
        self.env["res.config.settings"].create(
            {
                "queue_job_sh_ip_change_webhook_urls": " https://a.example/h\n"
                "https://b.example/h, https://a.example/h ",
                "queue_job_sh_ip_change_webhook_on_simulation": True,
            }
        ).execute()
        get_param = self.env["ir.config_parameter"].get_param
        self.assertEqual(
            get_param(WEBHOOK_URLS_PARAM), "https://a.example/h\nhttps://b.example/h"
        )
        self.assertEqual(get_param(WEBHOOK_ON_SIMULATION_PARAM), "True")

    def test_settings_page(self):
        """The section shows in the web client, with the last known IP."""
        self.set_stage("production")
        self.assertOk(self.call({"ip": NEW, "old": OLD}))
        self.browser_js(
            "/odoo/action-queue_job_sh.res_config_settings_action",
            f"""
            const check = () => {{
                const field = document.querySelector(
                    "div[name=queue_job_sh_ip_current]");
                if (!field) {{ return setTimeout(check, 100); }}
                if (field.textContent.trim() !== "{NEW}") {{
                    console.error("shown IP: " + field.textContent);
                }} else if (!document.querySelector(
                        "[name=queue_job_sh_ip_change_webhook_urls] textarea")) {{
                    console.error("no webhook URLs field");
                }} else {{
                    console.log("test successful");
                }}
            }};
            check();
            """,
            login="admin",
        )


@tagged("post_install", "-at_install")
class TestIpChangeRetries(TransactionCase):
    """Reaction and webhook jobs that fail or are retried.

    queue_job stores a retry or a failure from a cursor of its own, then
    rolls the job's cursor back. Test cursors all share one connection and
    nest, so that rollback would also discard what the other cursor stored
    (queue_job 19.0 opens a savepoint around every job, so always). Here
    every cursor is a real connection that commits, as under a job runner;
    what they commit is removed at the end.
    """

    # the jobs, their runner wake-ups and the administrators' messages
    TABLES = ("queue_job", "ir_cron_trigger", "mail_message")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.webhook = WebhookServer()
        cls.addClassCleanup(cls.webhook.stop)

    def setUp(self):
        super().setUp()
        self.webhook.reset()
        self.db = db_connect(self.env.cr.dbname)
        with self.db.cursor() as cr:
            self.last_ids = {}
            for table in self.TABLES:
                cr.execute(
                    SQL("SELECT COALESCE(max(id), 0) FROM %s", SQL.identifier(table))
                )
                self.last_ids[table] = cr.fetchone()[0]
        self.addCleanup(self._clean)

    def _clean(self):
        with self.db.cursor() as cr:
            for table, last_id in self.last_ids.items():
                cr.execute(
                    SQL("DELETE FROM %s WHERE id > %s", SQL.identifier(table), last_id)
                )
            cr.execute(
                "DELETE FROM ir_config_parameter "
                "WHERE key LIKE 'queue_job_sh.ip_change.%%'"
            )
        # the parameters' cache still holds the deleted values
        self.registry.clear_cache()

    def _env(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {})

    def record_change(self, webhook_url):
        with self.db.cursor() as cr:
            env = self._env(cr)
            env["ir.config_parameter"].set_param(WEBHOOK_URLS_PARAM, webhook_url)
            env[MODEL]._record_ip_change(OLD, NEW, "production")

    def job(self, method):
        """The values of the only job of ``method``."""
        with self.db.cursor() as cr:
            [values] = (
                self._env(cr)["queue.job"]
                .search(
                    [
                        ("id", ">", self.last_ids["queue_job"]),
                        ("model_name", "=", MODEL),
                        ("method_name", "=", method),
                    ]
                )
                .read(["uuid", "state", "retry", "eta", "result", "exc_name"])
            )
            return values

    def run_job(self, method):
        """Run the job of ``method`` as queue_job's ``/queue_job/runjob``
        route does; the exception ``_runjob`` raised (a failed job), if
        any."""
        uuid = self.job(method)["uuid"]
        with self.db.cursor() as cr:
            env = self._env(cr)
            job = Job.load(env, uuid)
            job.set_enqueued()
            job.store()
            env.flush_all()
            job = RunJobController._acquire_job(env, uuid)  # commits
            self.assertTrue(job, "the job could not be acquired")
            try:
                RunJobController._runjob(env, job)
            except Exception as error:
                cr.rollback()
                return error
            # what the job did is committed when the block ends
        return None

    def admin_message_count(self):
        with self.db.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM mail_message WHERE id > %s "
                "AND subject ILIKE '%%IP address%%'",
                (self.last_ids["mail_message"],),
            )
            return cr.fetchone()[0]

    def test_webhook_retried_on_5xx(self):
        self.record_change(f"{self.webhook.url}/hook")
        self.assertIsNone(self.run_job("_react_to_ip_change"))
        self.assertEqual(self.admin_message_count(), 1)
        self.webhook.statuses.extend([500, 200])
        before = fields.Datetime.now()
        self.assertIsNone(self.run_job("_send_ip_change_webhook"))
        # postponed by the job function's retry pattern: 10 s after a try
        webhook = self.job("_send_ip_change_webhook")
        self.assertEqual((webhook["state"], webhook["retry"]), ("pending", 1))
        self.assertIn("answered HTTP 500", webhook["result"])
        self.assertAlmostEqual((webhook["eta"] - before).total_seconds(), 10, delta=5)
        with self.db.cursor() as cr:  # time passes
            self._env(cr)["queue.job"].browse(webhook["id"]).write({"eta": False})
        self.assertIsNone(self.run_job("_send_ip_change_webhook"))
        webhook = self.job("_send_ip_change_webhook")
        self.assertEqual((webhook["state"], webhook["retry"]), ("done", 2))
        self.assertEqual(len(self.webhook.requests), 2)
        self.assertEqual(
            self.webhook.requests[0]["body"], self.webhook.requests[1]["body"]
        )

    def test_webhook_retried_on_network_error(self):
        self.record_change(closed_port_url())
        self.run_job("_react_to_ip_change")
        self.assertIsNone(self.run_job("_send_ip_change_webhook"))
        webhook = self.job("_send_ip_change_webhook")
        self.assertEqual((webhook["state"], webhook["retry"]), ("pending", 1))
        self.assertIn("unreachable", webhook["result"])
        self.assertTrue(webhook["eta"])

    def test_webhook_4xx_fails(self):
        self.record_change(f"{self.webhook.url}/missing")
        self.run_job("_react_to_ip_change")
        self.webhook.statuses.append(404)
        with mute_logger(QUEUE_JOB_CONTROLLER_LOGGER):
            error = self.run_job("_send_ip_change_webhook")
        self.assertIsNotNone(error)
        with self.db.cursor() as cr:
            webhook = (
                self._env(cr)["queue.job"]
                .browse(self.job("_send_ip_change_webhook")["id"])
                .read(["state", "retry", "exc_name", "exc_message"])[0]
            )
        self.assertEqual(
            webhook,
            {
                "id": webhook["id"],
                "state": "failed",
                "retry": 1,
                "exc_name": "odoo.exceptions.UserError",
                "exc_message": f"Webhook {self.webhook.url}/missing answered "
                "HTTP 404: no such hook, sorry",
            },
        )
        self.assertEqual(len(self.webhook.requests), 1)

    def test_hook_retry_rolls_back_the_reactions(self):
        spy_hook(self, "_on_ip_change", RetryableJobError("firewall API down"))
        self.record_change(f"{self.webhook.url}/hook")
        self.assertIsNone(self.run_job("_react_to_ip_change"))
        reaction = self.job("_react_to_ip_change")
        self.assertEqual((reaction["state"], reaction["retry"]), ("pending", 1))
        self.assertIn("firewall API down", reaction["result"])
        with self.db.cursor() as cr:
            self.assertFalse(
                self._env(cr)["queue.job"].search_count(
                    [
                        ("id", ">", self.last_ids["queue_job"]),
                        ("method_name", "=", "_send_ip_change_webhook"),
                    ]
                )
            )
        self.assertEqual(self.admin_message_count(), 0)


@tagged("post_install", "-at_install")
class TestIpChangeConcurrency(TransactionCase):
    """Two identical notifications at the same time enqueue one job; two
    simulated changes at the same time record one.

    Uses two real connections and commits, as two HTTP workers would; what
    they commit is removed at the end.
    """

    def setUp(self):
        super().setUp()
        self.db = db_connect(self.env.cr.dbname)
        with self.db.cursor() as cr:
            cr.execute("SELECT COALESCE(max(id), 0) FROM ir_cron_trigger")
            self.last_trigger_id = cr.fetchone()[0]
            cr.execute("SELECT COALESCE(max(id), 0) FROM queue_job")
            self.last_job_id = cr.fetchone()[0]
        self.addCleanup(self._clean)

    def _clean(self):
        with self.db.cursor() as cr:
            cr.execute(
                "DELETE FROM queue_job WHERE model_name = %s AND id > %s",
                (MODEL, self.last_job_id),
            )
            # the runner wake-ups the new jobs asked for
            cr.execute(
                "DELETE FROM ir_cron_trigger WHERE id > %s", (self.last_trigger_id,)
            )
            cr.execute(
                "DELETE FROM ir_config_parameter "
                "WHERE key LIKE 'queue_job_sh.ip_change.%%'"
            )

    def _env(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {})

    def _race(self, old, new, stage="production", change_b=None):
        """A records the change and holds its transaction open while B,
        whose snapshot is older, makes the same call (or ``change_b``);
        then A commits.

        B is retried by hand as Odoo's HTTP layer would (``retrying`` itself
        needs the registry lock, which the test runner holds). Returns what
        B's retry recorded.
        """
        change_b = change_b or (old, new)
        with self.db.cursor() as cr_a, self.db.cursor() as cr_b:
            env_a, env_b = self._env(cr_a), self._env(cr_b)
            cr_b.execute("SELECT pg_backend_pid()")  # B's snapshot starts here
            b_pid = cr_b.fetchone()[0]
            recording_a = env_a[MODEL]._record_ip_change(old, new, stage)
            result_b = {}

            def call_b():
                try:
                    result_b["recording"] = env_b[MODEL]._record_ip_change(
                        *change_b, stage
                    )
                except psycopg2.Error as error:
                    result_b["error"] = error
                    cr_b.rollback()
                    env_b.invalidate_all(flush=False)
                    result_b["retried"] = env_b[MODEL]._record_ip_change(
                        *change_b, stage
                    )
                cr_b.commit()

            thread = threading.Thread(target=call_b)
            with mute_logger("odoo.sql_db"):
                thread.start()
                self._wait_for_lock(b_pid)
                cr_a.commit()
                thread.join(timeout=30)
                self.assertFalse(
                    thread.is_alive(),
                    "".join(traceback.format_stack(sys._current_frames()[thread.ident]))
                    if thread.is_alive()
                    else "",
                )
        self.assertIsNotNone(recording_a.job)
        # B failed the way Odoo retries, and its retry enqueued nothing
        self.assertNotIn("recording", result_b)
        self.assertIsInstance(result_b["error"], PG_CONCURRENCY_EXCEPTIONS_TO_RETRY)
        self.assertIsNone(result_b["retried"].job)
        return result_b["retried"]

    def _wait_for_lock(self, pid):
        with self.db.cursor() as cr:
            for _attempt in range(300):
                cr.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                    (pid,),
                )
                if cr.fetchone()[0] == "Lock":
                    return
                cr.rollback()
                threading.Event().wait(0.05)
        self.fail("the second call never waited for the first one's lock")

    def _count_jobs(self):
        with self.db.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM queue_job WHERE model_name = %s "
                "AND method_name = '_react_to_ip_change' AND id > %s",
                (MODEL, self.last_job_id),
            )
            return cr.fetchone()[0]

    def _refused_count(self):
        with self.db.cursor() as cr:
            cr.execute(
                "SELECT value FROM ir_config_parameter WHERE key = %s",
                (SIMULATION_REFUSED_PARAM,),
            )
            row = cr.fetchone()
            return row and row[0]

    def test_first_change_ever(self):
        """No parameter row yet: both calls insert it."""
        self.assertEqual(self._race(OLD, NEW).retry_after, 0)
        self.assertEqual(self._count_jobs(), 1)

    def test_two_simulated_changes(self):
        """B, a different change, would be recorded by its old snapshot: it
        waits for A's lock, fails, and its retry is refused and counted."""
        retried = self._race(OLD, NEW, "staging", change_b=(NEW, "192.0.2.1"))
        self.assertGreater(retried.retry_after, 0)
        self.assertEqual(self._count_jobs(), 1)
        self.assertEqual(self._refused_count(), "1")

    def test_refusals_counted_by_old_snapshots(self):
        """A refusal is counted in a transaction of its own: B, whose
        snapshot predates A's count, counts too, without an error to retry."""
        with self.db.cursor() as cr:
            self._env(cr)[MODEL]._record_ip_change(OLD, NEW, "staging")
        with self.db.cursor() as cr_a, self.db.cursor() as cr_b:
            cr_b.execute("SELECT 1")  # B's snapshot starts here
            for cr in (cr_a, cr_b):
                recording = self._env(cr)[MODEL]._record_ip_change(NEW, OLD, "staging")
                self.assertGreater(recording.retry_after, 0)
                # a real connection, committed as the request would be
                cr.commit()  # pylint: disable=invalid-commit
        self.assertEqual(self._refused_count(), "2")
        self.assertEqual(self._count_jobs(), 1)

    def test_change_of_a_recorded_address(self):
        with self.db.cursor() as cr:
            self._env(cr)["ir.config_parameter"].set_param(
                PRODUCTION_PARAMS.current, OLD
            )
        self._race(OLD, NEW)
        self.assertEqual(self._count_jobs(), 1)

    def test_lock_is_taken(self):
        """Without the wait, B would enqueue a second job: the test above
        would then fail on its count (checked here on the raw lock)."""
        with self.db.cursor() as cr_a, self.db.cursor() as cr_b:
            self._env(cr_a)[MODEL]._lock_param(PRODUCTION_PARAMS.current)
            cr_b.execute("SET lock_timeout = '100ms'")
            with (
                self.assertRaises(psycopg2.errors.LockNotAvailable),
                mute_logger("odoo.sql_db"),
            ):
                self._env(cr_b)[MODEL]._lock_param(PRODUCTION_PARAMS.current)
