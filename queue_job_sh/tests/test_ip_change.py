# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``/_odoo.sh/ip-change``: the real route, the real jobs, a real webhook.

Requests go to the test HTTP server (``HttpCase``). The jobs run as
queue_job's ``/queue_job/runjob`` route runs them (``_acquire_job`` then
``_runjob``), on a test cursor. Webhooks reach a real HTTP server listening
on 127.0.0.1 in a thread of the test process, which checks their
signature.
"""

import http.client
import json
import logging
import os
import sys
import threading
import traceback
from contextlib import nullcontext
from datetime import timedelta
from unittest.mock import patch
from urllib.parse import urlencode, urlsplit

import psycopg2

from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import ValidationError
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tests import HttpCase, TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job

from ..models.queue_job_sh_ip_change import (
    PRODUCTION_PARAMS,
    PRODUCTION_RECENT_PARAM,
    PRODUCTION_REFUSED_PARAM,
    PRODUCTION_WINDOW,
    SIMULATION_PARAMS,
    SIMULATION_REFUSED_PARAM,
    WEBHOOK_ON_SIMULATION_PARAM,
    WEBHOOK_SECRET_PARAM,
    WEBHOOK_URLS_PARAM,
)
from ..webhook import signature as webhook_signature
from .ip_change_common import (
    DOC_NEW,
    DOC_OLD,
    MODEL,
    MODEL_LOGGER,
    NEW,
    NEWER,
    OLD,
    QUEUE_JOB_CONTROLLER_LOGGER,
    RealJobsMixin,
    WebhookServer,
    closed_port_url,
    spy_hook,
)

ROUTE = "/_odoo.sh/ip-change"
CONTROLLER_LOGGER = "odoo.addons.queue_job_sh.controllers.ip_change"
WITHOUT_STAGE_ENV = "ODOO_QUEUE_JOB_SH_IP_CHANGE_WITHOUT_STAGE"
INTERVAL_ENV = "ODOO_QUEUE_JOB_SH_IP_CHANGE_INTERVAL"
# Forms of the route's path that Odoo would route to it (decoded, slashes
# merged or added) or redirect to it: each gets a 404
PATH_VARIANTS = (
    "/_odoo.sh/ip-change/",
    "/_odoo.sh/ip%2Dchange",
    "/_odoo.sh/ip%2dchange",
    "/%5Fodoo.sh/ip-change",
    "/_odoo%2Esh/ip-change",
    "/_odoo.sh/%69p-change",
    "/_odoo.sh//ip-change",
    "//_odoo.sh/ip-change",
    "/_odoo.sh/ip-change//",
    "/_odoo.sh/./ip-change",
)
# Addresses that are not globally routable: production refuses them
LOCAL_ADDRESSES = (
    "127.0.0.1",  # loopback
    "10.1.2.3",  # private
    "172.16.0.1",
    "192.168.1.1",
    "169.254.1.1",  # link-local
    "100.64.0.1",  # shared (carrier-grade NAT)
    "0.0.0.0",  # unspecified
    "255.255.255.255",  # broadcast
    "224.0.0.1",  # multicast
    "240.0.0.1",  # reserved
    "192.0.2.1",  # documentation
    DOC_OLD,
    DOC_NEW,
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "2001:db8::1",
    "ff0e::1",
    "fec0::1",  # site-local
    "400::1",  # reserved
    "::ffff:10.0.0.1",
)


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
        # every test starts from an empty queue and nothing recorded; the
        # webhooks' key made at install stays
        self.env["queue.job"].search([]).unlink()
        self.env["ir.config_parameter"].search(
            [
                ("key", "=like", "queue_job_sh.ip_change.%"),
                ("key", "!=", WEBHOOK_SECRET_PARAM),
            ]
        ).unlink()
        self.secret = self.env["ir.config_parameter"].get_param(WEBHOOK_SECRET_PARAM)
        self.webhook.secret = self.secret

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

    def raw_get(self, target, method="GET"):
        """Send ``target`` as the request line has it: no client library
        re-quotes or normalizes it. Returns (status, body)."""
        base = urlsplit(self.base_url())
        connection = http.client.HTTPConnection(base.hostname, base.port, timeout=60)
        self.env.flush_all()
        # 19.0 serves a test's requests only inside allow_requests, with the
        # cookie it sets (18.0: always)
        allow_requests = getattr(self, "allow_requests", None)
        try:
            with allow_requests() if allow_requests else nullcontext():
                cookies = "; ".join(f"{c.name}={c.value}" for c in self.opener.cookies)
                connection.request(method, target, headers={"Cookie": cookies})
                response = connection.getresponse()
                return response.status, response.read()
        finally:
            connection.close()
            self.env.invalidate_all()
            self.env.registry.clear_cache()

    def assertOk(self, response):
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.text, "ok")
        self.assertTrue(response.headers["Content-Type"].startswith("text/plain"))
        # save_session=False: no session is written, no cookie is sent
        self.assertNotIn("Set-Cookie", response.headers)

    def assertNothingRecorded(self):
        self.assertEqual(self.recorded(PRODUCTION_PARAMS), (None, None, None))
        self.assertEqual(self.recorded(SIMULATION_PARAMS), (None, None, None))
        self.assertFalse(self.env["queue.job"].search([]))

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
        job's rollback would discard it (see ``RealJobsMixin``).
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
        # the first change: nothing was recorded before, the notification's
        # old address is only logged
        self.assertEqual(
            logs.output,
            [
                f"INFO:{MODEL_LOGGER}:IP address changed from (none recorded) "
                f"to {NEW}",
                f"INFO:{MODEL_LOGGER}:The notification gave {OLD} as the "
                "previous IP address; the one recorded was none",
            ],
        )
        current, previous, date = self.recorded(PRODUCTION_PARAMS)
        self.assertEqual((current, previous), (NEW, None))
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
                    "name": f"Odoo.sh IP change: none recorded → {NEW}",
                }
            ],
        )
        self.assertEqual(job.args, [None, NEW, date, "production", 0])

    def test_production_ipv6_with_new(self):
        self.set_stage("production")
        self.assertOk(self.call({"new": "2A05:D018:0::7", "old": "2a05:d018::1"}))
        self.assertOk(self.call({"new": "2a05:d018::8", "old": "2A05:D018::7"}))
        # stored in the canonical form
        self.assertEqual(
            self.recorded(PRODUCTION_PARAMS)[:2], ("2a05:d018::8", "2a05:d018::7")
        )
        self.assertEqual(len(self.jobs("_react_to_ip_change")), 2)

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
            ({"ip": NEW, "new": NEWER, "old": OLD}, "ip and new differ"),
            ([("ip", NEW), ("ip", OLD), ("old", OLD)], "ip given more than once"),
            ({"ip": NEW, "old": NEW}, "old and new are the same address"),
            ("ip=%00&old=" + OLD, "ip is not an IPv4 or IPv6 address"),
            ("ip=%ff%fe&old=" + OLD, "ip is not an IPv4 or IPv6 address"),
            ("ip=44.33.22.11%0a1&old=" + OLD, "ip is not an IPv4 or IPv6"),
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
        self.assertNothingRecorded()

    def test_production_refuses_local_addresses(self):
        """Production takes globally routable addresses only, new and old;
        a simulation takes any address, so that it can be tried with the
        documentation's addresses."""
        self.set_stage("production")
        for address in LOCAL_ADDRESSES:
            for query, name in (
                ({"ip": address, "old": OLD}, "ip"),
                ({"new": address, "old": OLD}, "new"),
                ({"ip": NEW, "old": address}, "old"),
            ):
                with self.subTest(query=query):
                    response = self.call(query)
                    self.assertEqual(response.status_code, 400, response.text)
                    self.assertEqual(
                        response.text, f"{name} is not a globally routable address"
                    )
        self.assertNothingRecorded()
        self.set_stage("staging")
        self.assertOk(self.call({"ip": "127.0.0.1", "old": "10.1.2.3"}))
        self.assertEqual(
            self.recorded(SIMULATION_PARAMS)[0],
            "127.0.0.1",
        )

    def test_path_variants_get_404(self):
        """Only the exact path is the route: the platform's rule on it is
        what guards production."""
        query = urlencode({"ip": NEW, "old": OLD})
        base = urlsplit(self.base_url())
        for stage in ("production", "staging"):
            self.set_stage(stage)
            targets = [f"{path}?{query}" for path in PATH_VARIANTS]
            # the absolute form of the request target, a valid HTTP/1.1 one
            targets.append(f"http://{base.netloc}{ROUTE}?{query}")
            for target in targets:
                for method in ("GET", "HEAD"):
                    with self.subTest(stage=stage, target=target, method=method):
                        status, body = self.raw_get(target, method)
                        self.assertEqual(status, 404, body)
                        self.assertNotEqual(body, b"ok")
        self.assertNothingRecorded()
        self.assertEqual(self.raw_get(f"{ROUTE}?{query}"), (200, b"ok"))

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
        self.assertNothingRecorded()

    def test_repeated_calls_enqueue_one_job(self):
        self.set_stage("production")
        for _attempt in range(3):
            self.assertOk(self.call({"ip": NEW, "old": OLD}))
        self.assertEqual(len(self.jobs("_react_to_ip_change")), 1)
        date = self.recorded(PRODUCTION_PARAMS)[2]
        # a call with another old address but the current new one: no change
        with self.assertLogs(MODEL_LOGGER, logging.INFO) as logs:
            self.assertOk(self.call({"ip": NEW, "old": NEWER}))
        self.assertIn("already recorded, ignored", logs.output[0])
        self.assertEqual(self.recorded(PRODUCTION_PARAMS), (NEW, None, date))
        self.assertEqual(len(self.jobs("_react_to_ip_change")), 1)
        # back and forth while the first job is still pending: each change
        # is a job of its own, in order
        self.assertOk(self.call({"ip": OLD, "old": NEW}))
        self.assertOk(self.call({"ip": NEW, "old": OLD}))
        jobs = self.jobs("_react_to_ip_change")
        self.assertEqual(
            [job.args[:2] for job in jobs], [[None, NEW], [NEW, OLD], [OLD, NEW]]
        )
        self.assertEqual(jobs.mapped("state"), ["pending"] * 3)

    def test_hook_gets_the_recorded_old_address(self):
        """The hook's ``old`` is what the database recorded, whatever the
        notification says: a hook that removes ``old`` from an allow-list
        removes the address it allowed before, never one a caller names."""
        self.set_stage("production")
        hook_calls = spy_hook(self, "_on_ip_change")
        self.assertOk(self.call({"ip": NEW, "old": OLD}))
        with self.assertLogs(MODEL_LOGGER, logging.INFO) as logs:
            self.assertOk(self.call({"ip": NEWER, "old": "9.9.9.9"}))
        self.assertEqual(
            logs.output,
            [
                f"INFO:{MODEL_LOGGER}:IP address changed from {NEW} to {NEWER}",
                f"INFO:{MODEL_LOGGER}:The notification gave 9.9.9.9 as the "
                f"previous IP address; the one recorded was {NEW}",
            ],
        )
        self.assertEqual(self.recorded(PRODUCTION_PARAMS)[:2], (NEWER, NEW))
        # the notification's old address, when it is the recorded one, is
        # not logged twice
        with self.assertLogs(MODEL_LOGGER, logging.INFO) as logs:
            self.assertOk(self.call({"ip": OLD, "old": NEWER}))
        self.assertEqual(len(logs.output), 1)
        for reaction in self.jobs("_react_to_ip_change"):
            self.run_job(reaction)
        self.assertEqual(hook_calls, [(None, NEW), (NEW, NEWER), (NEWER, OLD)])
        self.assertIn(
            f"from {NEW} to {NEWER}",
            self.admin_messages().filtered(lambda m: NEWER in m.body)[-1:].body,
        )

    def test_production_limit(self):
        """Production records at most 3 changes a day; a repeat of the
        recorded change is still answered ok; the refusals are counted and
        told with the next change."""
        self.set_stage("production")
        for old, new in ((OLD, NEW), (NEW, OLD), (OLD, NEW)):
            self.assertOk(self.call({"ip": new, "old": old}))
        with self.assertLogs(MODEL_LOGGER, logging.WARNING) as logs:
            self.assertTooFrequent(
                self.call({"ip": NEWER, "old": NEW}), retry_after=PRODUCTION_WINDOW
            )
        self.assertIn("refused: 3 changes recorded in 24 hours already", logs.output[0])
        with self.assertLogs(MODEL_LOGGER, logging.WARNING):
            self.assertTooFrequent(
                self.call({"ip": OLD, "old": NEW}), retry_after=PRODUCTION_WINDOW
            )
        # a repeat of the recorded change: nothing to record, no refusal
        self.assertOk(self.call({"ip": NEW, "old": OLD}))
        self.assertEqual(len(self.jobs("_react_to_ip_change")), 3)
        self.assertEqual(self.recorded(PRODUCTION_PARAMS)[:2], (NEW, OLD))
        get_param = self.env["ir.config_parameter"].get_param
        self.assertEqual(get_param(PRODUCTION_REFUSED_PARAM), "2")
        # the window moves with the oldest of the last 3 changes
        now = fields.Datetime.now()
        recent = [now - timedelta(hours=23), now - timedelta(hours=1), now]
        self.set_param(
            PRODUCTION_RECENT_PARAM,
            ",".join(fields.Datetime.to_string(date) for date in recent),
        )
        with self.assertLogs(MODEL_LOGGER, logging.WARNING):
            self.assertTooFrequent(self.call({"ip": NEWER, "old": NEW}), 3600)
        recent[0] -= timedelta(hours=1, seconds=1)
        self.set_param(
            PRODUCTION_RECENT_PARAM,
            ",".join(fields.Datetime.to_string(date) for date in recent),
        )
        self.assertOk(self.call({"ip": NEWER, "old": NEW}))
        self.assertEqual(get_param(PRODUCTION_REFUSED_PARAM), False)
        self.assertEqual(
            get_param(PRODUCTION_RECENT_PARAM).split(",")[:2],
            [fields.Datetime.to_string(date) for date in recent[1:]],
        )
        reaction = self.jobs("_react_to_ip_change")[-1:]
        self.assertEqual(reaction.args[4], 3)
        self.run_job(reaction)
        self.assertIn(
            "Since the previous change, 3 notification(s) were refused as too "
            "frequent.",
            self.admin_messages()[:1].body,
        )

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
        self.assertOk(self.call({"ip": NEWER, "old": NEW}))
        at = self.recorded(PRODUCTION_PARAMS)[2]
        reactions = self.jobs("_react_to_ip_change")
        for reaction in reactions:
            self.run_job(reaction)
        self.assertEqual(reactions.mapped("state"), ["done", "done"])
        self.assertEqual(hook_calls, [(None, NEW), (NEW, NEWER)])
        self.assertEqual(simulation_calls, [])
        # the administrators got a message (Inbox or email)
        message = self.admin_messages()[:1]
        self.assertEqual(message.subject, "Odoo.sh: the IP address changed")
        self.assertIn(f"from {NEW} to {NEWER}", message.body)
        self.assertEqual(message.author_id, self.env.ref("base.partner_root"))
        self.assertIn(self.admin.partner_id, message.notification_ids.res_partner_id)
        self.assertNotIn(self.env.ref("base.partner_root"), message.partner_ids)
        self.assertIn("from none recorded to", self.admin_messages()[1:].body)
        # the webhooks are jobs of their own, which do not hold the URL
        webhook_jobs = self.jobs("_send_ip_change_webhook")
        self.assertRecordValues(
            webhook_jobs,
            [{"state": "pending", "max_retries": 10, "retry": 0}] * 2,
        )
        host = urlsplit(self.webhook.url).netloc
        self.assertEqual(
            webhook_jobs.mapped("name"), [f"Odoo.sh IP change webhook: {host}"] * 2
        )
        self.assertNotIn("/hook", str(webhook_jobs.mapped("args")))
        self.assertEqual(self.webhook.requests, [])
        webhook = webhook_jobs[1]
        self.run_job(webhook)
        self.assertEqual(webhook.state, "done")
        self.assertEqual(webhook.result, f"Webhook {host} answered HTTP 200")
        [received] = self.webhook.requests
        self.assertEqual(received["path"], "/hook")
        self.assertEqual(received["content_type"], "application/json")
        # signed with the key of the settings
        self.assertEqual(
            received["signature"], webhook_signature(self.secret, received["body"])
        )
        self.assertEqual(
            json.loads(received["body"]),
            {
                "db": self.env.cr.dbname,
                "stage": "production",
                "simulation": False,
                "old": NEW,
                "new": NEWER,
                "at": fields.Datetime.from_string(at).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )
        # the receiver refuses a body signed with another key: the job fails
        self.webhook.secret = "another key"
        with mute_logger(QUEUE_JOB_CONTROLLER_LOGGER):
            with self.assertRaises(Exception):  # noqa: B017 -- UserError
                self.run_job(webhook_jobs[0])
        self.assertEqual(len(self.webhook.requests), 2)

    def test_staging_is_a_simulation(self):
        """Simulations take the documentation's addresses; the simulated
        hook gets the simulated address recorded before."""
        self.set_stage("staging")
        self.set_param(WEBHOOK_URLS_PARAM, f"{self.webhook.url}/hook")
        hook_calls = spy_hook(self, "_on_ip_change")
        simulation_calls = spy_hook(self, "_on_ip_change_simulation")
        with self.assertLogs(MODEL_LOGGER, logging.INFO) as logs:
            self.assertOk(self.call({"ip": DOC_NEW, "old": DOC_OLD}))
        self.assertIn(
            f"Simulation of IP address change from (none recorded) to {DOC_NEW} "
            "(stage 'staging')",
            logs.output[0],
        )
        self.assertEqual(self.recorded(PRODUCTION_PARAMS), (None, None, None))
        self.assertEqual(self.recorded(SIMULATION_PARAMS)[:2], (DOC_NEW, None))
        reaction = self.jobs("_react_to_ip_change")
        self.assertIn("simulation (staging)", reaction.name)
        self.run_job(reaction)
        self.assertEqual((hook_calls, simulation_calls), ([], [(None, DOC_NEW)]))
        message = self.admin_messages()
        self.assertEqual(
            message.subject, "Simulation: Odoo.sh IP address change (staging)"
        )
        self.assertIn("Nothing changed on production", message.body)
        # webhooks only when explicitly allowed on this stage
        self.assertFalse(self.jobs("_send_ip_change_webhook"))
        self.set_param(WEBHOOK_ON_SIMULATION_PARAM, "True")
        self.let_interval_pass()
        self.assertOk(self.call({"ip": "203.0.113.9", "old": DOC_NEW}))
        self.run_job(self.jobs("_react_to_ip_change")[-1:])
        self.assertEqual(simulation_calls[-1], (DOC_NEW, "203.0.113.9"))
        webhook = self.jobs("_send_ip_change_webhook")
        self.run_job(webhook)
        self.assertEqual(webhook.state, "done")
        [received] = self.webhook.requests
        self.assertEqual(
            received["signature"], webhook_signature(self.secret, received["body"])
        )
        body = json.loads(received["body"])
        self.assertEqual(
            (body["stage"], body["simulation"], body["old"], body["new"]),
            ("staging", True, DOC_NEW, "203.0.113.9"),
        )

    def test_production_jobs_do_not_run_elsewhere(self):
        """A copy of production's database (a staging build, a restored
        dump) carries production's pending jobs: they act on nothing."""
        self.set_stage("production")
        self.set_param(WEBHOOK_URLS_PARAM, f"{self.webhook.url}/hook")
        hook_calls = spy_hook(self, "_on_ip_change")
        self.assertOk(self.call({"ip": NEW, "old": OLD}))
        self.assertOk(self.call({"ip": NEWER, "old": NEW}))
        first, second = self.jobs("_react_to_ip_change")
        self.run_job(first)
        webhook = self.jobs("_send_ip_change_webhook")
        for stage in ("staging", ""):
            self.set_stage(stage)
            self.run_job(second)
            self.assertEqual(second.state, "done")
            self.assertEqual(
                second.result,
                "Not run: a change recorded on production, and this server's "
                f"stage is {stage or 'not set'}",
            )
            self.run_job(webhook)
            self.assertEqual(webhook.state, "done")
            self.assertEqual(
                webhook.result,
                "Not sent: a change recorded on production, and this server's "
                f"stage is {stage or 'not set'}",
            )
        self.assertEqual(hook_calls, [(None, NEW)])
        self.assertEqual(len(self.jobs("_send_ip_change_webhook")), 1)
        self.assertEqual(len(self.admin_messages()), 1)
        self.assertEqual(self.webhook.requests, [])

    def test_webhook_job_follows_the_settings(self):
        """A webhook job names its URL by a digest, looked up when it runs:
        a URL removed or changed since is not called."""
        self.set_stage("production")
        kept = f"{self.webhook.url}/kept?token=1"
        changed = f"{self.webhook.url}/changed?token=1"
        self.set_param(WEBHOOK_URLS_PARAM, f"{changed}\n{kept}")
        self.assertOk(self.call({"ip": NEW, "old": OLD}))
        self.run_job(self.jobs("_react_to_ip_change"))
        to_changed, to_kept = self.jobs("_send_ip_change_webhook")
        self.set_param(
            WEBHOOK_URLS_PARAM, f"{kept}\n{self.webhook.url}/changed?token=2"
        )
        for job in (to_changed, to_kept):
            self.run_job(job)
        self.assertEqual(
            to_changed.result,
            "Not sent: no webhook URL of the settings matches this job any more "
            "(removed or changed since the change was recorded)",
        )
        self.assertIn("answered HTTP 200", to_kept.result)
        self.assertEqual(
            [request["path"] for request in self.webhook.requests], ["/kept?token=1"]
        )
        # a simulation's webhook, after the switch was turned off
        self.set_stage("development")
        self.set_param(WEBHOOK_ON_SIMULATION_PARAM, "True")
        self.assertOk(self.call({"ip": DOC_NEW, "old": DOC_OLD}))
        self.run_job(self.jobs("_react_to_ip_change")[-1:])
        self.set_param(WEBHOOK_ON_SIMULATION_PARAM, False)
        simulated = self.jobs("_send_ip_change_webhook")[2:]
        self.assertEqual(len(simulated), 2)
        self.run_job(simulated[0])
        self.assertEqual(
            simulated[0].result,
            "Not sent: webhooks are off for simulations (Call Webhooks on "
            "Staging and Development)",
        )
        self.assertEqual(len(self.webhook.requests), 1)

    def test_webhook_key(self):
        """Made at install, kept by each upgrade, made again at the first
        webhook when it is missing (a neutralized copy)."""
        self.assertEqual(len(self.secret), 64)
        model = self.env[MODEL]
        self.assertEqual(model._ip_change_webhook_secret(), self.secret)
        self.env["ir.config_parameter"].search(
            [("key", "=", WEBHOOK_SECRET_PARAM)]
        ).unlink()
        self.env.flush_all()
        self.set_stage("production")
        self.set_param(WEBHOOK_URLS_PARAM, f"{self.webhook.url}/hook")
        self.assertOk(self.call({"ip": NEW, "old": OLD}))
        self.run_job(self.jobs("_react_to_ip_change"))
        self.webhook.secret = None
        self.run_job(self.jobs("_send_ip_change_webhook"))
        new_secret = model._read_params(WEBHOOK_SECRET_PARAM)[WEBHOOK_SECRET_PARAM]
        self.assertEqual(len(new_secret), 64)
        self.assertNotEqual(new_secret, self.secret)
        [received] = self.webhook.requests
        self.assertEqual(
            received["signature"], webhook_signature(new_secret, received["body"])
        )
        self.assertEqual(model._ip_change_webhook_secret(), new_secret)

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
        self.assertNothingRecorded()

    def test_without_stage_setting(self):
        # opened for a test outside Odoo.sh: same as development
        os.environ[WITHOUT_STAGE_ENV] = "1"
        self.assertOk(self.call({"ip": DOC_NEW, "old": DOC_OLD}))
        self.assertEqual(self.recorded(PRODUCTION_PARAMS), (None, None, None))
        self.assertEqual(self.recorded(SIMULATION_PARAMS)[:2], (DOC_NEW, None))
        self.assertEqual(self.jobs("_react_to_ip_change").args[3], "")
        self.assertTooFrequent(self.call({"ip": DOC_OLD, "old": DOC_NEW}))
        os.environ[WITHOUT_STAGE_ENV] = "0"
        self.assertEqual(self.call({"ip": DOC_OLD, "old": DOC_NEW}).status_code, 404)

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
        # production has a limit of its own
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
        self.assertOk(self.call({"ip": NEWER, "old": NEW}))
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.queue_job_sh_ip_current, NEWER)
        self.assertEqual(settings.queue_job_sh_ip_previous, NEW)
        self.assertEqual(
            settings.queue_job_sh_ip_changed_at,
            fields.Datetime.from_string(self.recorded(PRODUCTION_PARAMS)[2]),
        )
        self.assertFalse(settings.queue_job_sh_ip_simulation_current)
        self.assertEqual(settings.queue_job_sh_ip_change_webhook_secret, self.secret)
        # the key is not kept in the settings' rows
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = "
            "'res_config_settings' AND column_name LIKE '%%webhook_secret%%'"
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        # an invalid URL: the error says which, without repeating it (URLs
        # hold secrets, and the error is logged)
        with self.assertRaises(ValidationError) as error:
            self.env["res.config.settings"].create(
                {
                    "queue_job_sh_ip_change_webhook_urls": "https://ok.example/h\n"
                    "ftp://example.com/SECRET"
                }
            )
        self.assertEqual(
            str(error.exception),
            "IP change webhook URL number 2 is not an http(s) URL",
        )
        with self.assertRaises(ValidationError):
            self.env["res.config.settings"].create(
                {"queue_job_sh_ip_change_webhook_urls": "https://example.com:x/h"}
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
        """The section shows in the web client, with the last known IP and
        the webhooks' key."""
        self.set_stage("production")
        self.assertOk(self.call({"ip": NEW, "old": OLD}))
        self.browser_js(
            "/odoo/action-queue_job_sh.res_config_settings_action",
            f"""
            const check = () => {{
                const field = document.querySelector(
                    "div[name=queue_job_sh_ip_current]");
                const key = document.querySelector(
                    "div[name=queue_job_sh_ip_change_webhook_secret]");
                if (!field || !key) {{ return setTimeout(check, 100); }}
                if (field.textContent.trim() !== "{NEW}") {{
                    console.error("shown IP: " + field.textContent);
                }} else if (!key.textContent.includes("{self.secret}")) {{
                    console.error("shown key: " + key.textContent);
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
class TestIpChangeRetries(RealJobsMixin, TransactionCase):
    """Reaction and webhook jobs that fail or are retried (see
    ``RealJobsMixin``)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.webhook = WebhookServer()
        cls.addClassCleanup(cls.webhook.stop)

    def setUp(self):
        super().setUp()
        self.webhook.reset()
        self.webhook.secret = self.webhook_secret()
        self.host = urlsplit(self.webhook.url).netloc

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
        [uuid] = self.run_reaction()
        self.assertEqual(self.admin_message_count(), 1)
        self.webhook.statuses.extend([500, 200])
        before = fields.Datetime.now()
        self.assertIsNone(self.run_job(uuid))
        # postponed by the job function's retry pattern: 10 s after a try
        webhook = self.job("_send_ip_change_webhook")
        self.assertEqual((webhook["state"], webhook["retry"]), ("pending", 1))
        self.assertEqual(webhook["result"], f"Webhook {self.host} answered HTTP 500")
        self.assertAlmostEqual((webhook["eta"] - before).total_seconds(), 10, delta=5)
        with self.db.cursor() as cr:  # time passes
            self._env(cr)["queue.job"].browse(webhook["id"]).write({"eta": False})
        self.assertIsNone(self.run_job(uuid))
        webhook = self.job("_send_ip_change_webhook")
        self.assertEqual((webhook["state"], webhook["retry"]), ("done", 2))
        self.assertEqual(len(self.webhook.requests), 2)
        self.assertEqual(
            self.webhook.requests[0]["body"], self.webhook.requests[1]["body"]
        )

    def test_webhook_retried_on_network_error(self):
        url = closed_port_url()
        self.record_change(url)
        [uuid] = self.run_reaction()
        self.assertIsNone(self.run_job(uuid))
        webhook = self.job("_send_ip_change_webhook")
        self.assertEqual((webhook["state"], webhook["retry"]), ("pending", 1))
        self.assertEqual(
            webhook["result"],
            f"Webhook {urlsplit(url).netloc} unreachable: Connection refused",
        )
        self.assertTrue(webhook["eta"])

    def test_webhook_4xx_fails(self):
        self.record_change(f"{self.webhook.url}/missing")
        [uuid] = self.run_reaction()
        self.webhook.statuses.append(404)
        with mute_logger(QUEUE_JOB_CONTROLLER_LOGGER):
            error = self.run_job(uuid)
        self.assertIsNotNone(error)
        webhook = self.job(
            "_send_ip_change_webhook", ("state", "retry", "exc_name", "exc_message")
        )
        self.assertEqual(
            webhook,
            {
                "id": webhook["id"],
                "state": "failed",
                "retry": 1,
                "exc_name": "odoo.exceptions.UserError",
                # the answer's body and reason quote the path: not kept
                "exc_message": f"Webhook {self.host} answered HTTP 404",
            },
        )
        self.assertEqual(len(self.webhook.requests), 1)

    def test_invalid_url_in_the_settings(self):
        self.record_change(f"{self.webhook.url}/hook ftp://example.com/SECRET")
        with mute_logger(QUEUE_JOB_CONTROLLER_LOGGER):
            self.run_job(self.job("_react_to_ip_change")["uuid"])
        reaction = self.job("_react_to_ip_change", ("state", "exc_message"))
        self.assertEqual(
            reaction["exc_message"],
            "IP change webhook URL number 2 is not an http(s) URL",
        )

    def test_hook_retry_rolls_back_the_reactions(self):
        spy_hook(self, "_on_ip_change", RetryableJobError("firewall API down"))
        self.record_change(f"{self.webhook.url}/hook")
        self.assertIsNone(self.run_job(self.job("_react_to_ip_change")["uuid"]))
        reaction = self.job("_react_to_ip_change")
        self.assertEqual((reaction["state"], reaction["retry"]), ("pending", 1))
        self.assertIn("firewall API down", reaction["result"])
        self.assertEqual(self.jobs("_send_ip_change_webhook"), [])
        self.assertEqual(self.admin_message_count(), 0)


@tagged("post_install", "-at_install")
class TestIpChangeConcurrency(RealJobsMixin, TransactionCase):
    """Two identical notifications at the same time enqueue one job; two
    simulated changes at the same time record one; two production changes
    at the same time never record more than the limit.

    Uses two real connections and commits, as two HTTP workers would; what
    they commit is removed at the end (``RealJobsMixin``).
    """

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
                (MODEL, self.last_ids["queue_job"]),
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

    def test_production_limit(self):
        """B, another change, would be the fourth of the day by its old
        snapshot's count of three: it waits for A's lock, fails, and its
        retry is refused and counted."""
        with self.db.cursor() as cr:
            model = self._env(cr)[MODEL]
            model._record_ip_change(NEWER, NEW, "production")
            model._record_ip_change(NEW, OLD, "production")
        with self.assertLogs(MODEL_LOGGER, logging.WARNING) as logs:
            retried = self._race(OLD, NEW, change_b=(OLD, NEWER))
        self.assertIn("refused: 3 changes recorded", logs.output[0])
        self.assertGreater(retried.retry_after, 0)
        self.assertEqual(self._count_jobs(), 3)
        with self.db.cursor() as cr:
            cr.execute(
                "SELECT value FROM ir_config_parameter WHERE key = %s",
                (PRODUCTION_REFUSED_PARAM,),
            )
            self.assertEqual(cr.fetchone(), ("1",))

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
