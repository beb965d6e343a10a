# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The webhook job against real receivers that misbehave: a slow drip, a
100 MB answer, a silent TLS server; and what a job, its messages and the
logs keep of a URL: the host, never its user, path or query.

The jobs run on real connections (``RealJobsMixin``), as under a runner;
the receivers are servers on 127.0.0.1 in threads of the test process.
"""

import json
import logging
import os
import time
from unittest.mock import patch
from urllib.parse import urlsplit

from odoo.tests import TransactionCase, tagged

from .. import webhook
from ..models.queue_job_sh_ip_change import WEBHOOK_DEADLINE, WEBHOOK_URLS_PARAM
from .ip_change_common import (
    HUNDRED_MB,
    MODEL,
    NEW,
    OLD,
    QUEUE_JOB_CONTROLLER_LOGGER,
    LocalAuthority,
    RawServer,
    RealJobsMixin,
    WebhookServer,
    closed_port_url,
    huge_body,
    huge_headers,
    signature_is_valid,
    silent,
    slow_drip,
)

# what a receiver's URL may hold that must never show
SECRETS = ("PATH-SECRET", "QUERY-SECRET", "USER-SECRET", "PASSWORD-SECRET")


@tagged("post_install", "-at_install")
class TestIpChangeWebhookDelivery(RealJobsMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.authority = LocalAuthority()
        cls.addClassCleanup(cls.authority.cleanup)

    def setUp(self):
        super().setUp()
        self.secret = self.webhook_secret()

    def serve(self, answer, tls=None):
        server = RawServer(answer, tls)
        self.addCleanup(server.stop)
        return server

    def trust_local_authority(self):
        """The webhook's TLS trusts the test's certificate (OpenSSL reads
        SSL_CERT_FILE for the system's authorities)."""
        environ = patch.dict(os.environ, {"SSL_CERT_FILE": str(self.authority.cert)})
        environ.start()
        self.addCleanup(environ.stop)

    def deliver(self, url):
        """Record a change whose one webhook is ``url``, run its reaction,
        then its webhook job: (seconds the webhook job took, its values,
        its uuid)."""
        self.record_change(url)
        [uuid] = self.run_reaction()
        return self.run_webhook(uuid)

    def run_webhook(self, uuid):
        started = time.monotonic()
        self.run_job(uuid)
        elapsed = time.monotonic() - started
        values = self.job(
            "_send_ip_change_webhook", ("state", "retry", "result", "exc_message")
        )
        return elapsed, values, uuid

    def assertEndsAtTheDeadline(self, elapsed, job, server):
        """The call ended at its deadline, and the job is retried later."""
        self.assertGreater(elapsed, WEBHOOK_DEADLINE - 0.5)
        self.assertLess(elapsed, WEBHOOK_DEADLINE + 3)
        self.assertEqual((job["state"], job["retry"]), ("pending", 1))
        host = urlsplit(server.url).netloc
        self.assertEqual(
            job["result"],
            f"Webhook {host}: no answer within {WEBHOOK_DEADLINE} seconds",
        )

    def assertClientLeft(self, server):
        """The receiver saw the connection closed: nothing of the call is
        left behind."""
        deadline = time.monotonic() + 5
        while server.closed_at is None and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIsNotNone(server.closed_at)

    def test_signed_over_https(self):
        """A receiver checks the signature as the documentation says."""
        self.trust_local_authority()
        received = []

        def receiver(server, connection):
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            head, _sep, body = request.partition(b"\r\n\r\n")
            headers = dict(
                line.decode().split(": ", 1) for line in head.split(b"\r\n")[1:]
            )
            while len(body) < int(headers["Content-Length"]):
                body += connection.recv(65536)
            valid = signature_is_valid(
                self.secret, body, headers.get("X-Queue-Job-Sh-Signature")
            )
            received.append((head.split(b"\r\n")[0], json.loads(body), valid))
            status = b"200 OK" if valid else b"401 Unauthorized"
            server.send(connection, b"HTTP/1.1 " + status + b"\r\n\r\n")

        server = self.serve(receiver, tls=self.authority.context)
        _elapsed, job, uuid = self.deliver(f"{server.url}/hooks/ip?key=1")
        self.assertEqual(job["state"], "done", job)
        [(request_line, payload, valid)] = received
        self.assertEqual(request_line, b"POST /hooks/ip?key=1 HTTP/1.1")
        self.assertTrue(valid)
        self.assertEqual(
            (payload["simulation"], payload["old"], payload["new"]),
            (False, None, NEW),
        )
        # a receiver that expects another key refuses it: the job fails
        self.secret = "not the key"
        with self.assertLogs(QUEUE_JOB_CONTROLLER_LOGGER, logging.ERROR):
            _elapsed, job, _uuid = self.run_webhook(uuid)
        self.assertEqual(job["state"], "failed")
        self.assertFalse(received[-1][2])

    def test_slow_drip_ends_at_the_deadline(self):
        """A status line and headers that never end, a byte every 0.2 s."""
        server = self.serve(slow_drip)
        elapsed, job, _uuid = self.deliver(f"{server.url}/hook")
        self.assertEndsAtTheDeadline(elapsed, job, server)
        self.assertClientLeft(server)
        self.assertLess(server.sent, 100)

    def test_slow_drip_over_tls_ends_at_the_deadline(self):
        self.trust_local_authority()
        server = self.serve(slow_drip, tls=self.authority.context)
        elapsed, job, _uuid = self.deliver(f"{server.url}/hook")
        self.assertEndsAtTheDeadline(elapsed, job, server)
        self.assertClientLeft(server)

    def test_silent_tls_server_ends_at_the_deadline(self):
        """A server that never answers the TLS handshake."""
        server = self.serve(silent)
        server.url = server.url.replace("http:", "https:")
        elapsed, job, _uuid = self.deliver(f"{server.url}/hook")
        self.assertEndsAtTheDeadline(elapsed, job, server)
        self.assertClientLeft(server)

    def test_100_mb_body_is_not_read(self):
        """The body of a 200 answer is not read: the job is done at once, and
        the receiver could not send its 100 MB."""
        server = self.serve(huge_body)
        elapsed, job, _uuid = self.deliver(f"{server.url}/hook")
        self.assertLess(elapsed, 3)
        self.assertEqual(job["state"], "done")
        host = urlsplit(server.url).netloc
        self.assertEqual(job["result"], f"Webhook {host} answered HTTP 200")
        self.assertClientLeft(server)
        self.assertLess(server.sent, HUNDRED_MB // 4)

    def test_100_mb_of_headers_fails(self):
        """An answer whose headers never end: read up to the cap, then the
        job fails."""
        server = self.serve(huge_headers)
        with self.assertLogs(QUEUE_JOB_CONTROLLER_LOGGER, logging.ERROR):
            elapsed, job, _uuid = self.deliver(f"{server.url}/hook")
        self.assertLess(elapsed, 3)
        host = urlsplit(server.url).netloc
        self.assertEqual(
            (job["state"], job["exc_message"]),
            (
                "failed",
                f"Webhook {host} answered more than "
                f"{webhook.MAX_ANSWER_BYTES} bytes of headers",
            ),
        )
        self.assertClientLeft(server)
        self.assertLess(server.sent, HUNDRED_MB // 4)

    def test_no_url_path_or_query_in_logs_jobs_or_messages(self):
        """URLs hold secrets (Slack-style paths, tokens in queries, user and
        password): jobs, their errors, the messages and the logs name the
        host only, whatever the receiver answers."""
        receiver = WebhookServer(secret=self.secret)
        self.addCleanup(receiver.stop)
        # the receiver's error answers quote the path in their body and
        # reason phrase
        receiver.statuses.extend([200, 404, 500])
        drip = self.serve(slow_drip)
        netloc = urlsplit(receiver.url).netloc
        urls = [
            f"http://USER-SECRET:PASSWORD-SECRET@{netloc}/ok/PATH-SECRET"
            "?token=QUERY-SECRET",
            f"{receiver.url}/missing/PATH-SECRET?token=QUERY-SECRET&a=1",
            f"{receiver.url}/failing/PATH-SECRET?token=QUERY-SECRET&a=2",
            closed_port_url("/refused/PATH-SECRET?token=QUERY-SECRET"),
            f"{drip.url}/slow/PATH-SECRET?token=QUERY-SECRET",
        ]
        # the debug lines of queue_job and of this addon too
        addons_logger = logging.getLogger("odoo.addons")
        self.addCleanup(addons_logger.setLevel, addons_logger.level)
        addons_logger.setLevel(logging.DEBUG)
        with self.db.cursor() as cr:  # the setting, written outside the logs
            self._env(cr)["ir.config_parameter"].set_param(
                WEBHOOK_URLS_PARAM, "\n".join(urls)
            )
        # every line, down to the SQL queries (odoo.sql_db's debug lines)
        with self.assertLogs(level=logging.DEBUG) as logs:
            with self.db.cursor() as cr:
                self._env(cr)[MODEL]._record_ip_change(OLD, NEW, "production")
            uuids = self.run_reaction()
            for uuid in uuids:
                self.run_job(uuid)
        self.assertEqual(len(uuids), 5)
        # the receivers got their requests, basic authentication included
        self.assertEqual(
            [request["path"] for request in receiver.requests],
            [
                "/ok/PATH-SECRET?token=QUERY-SECRET",
                "/missing/PATH-SECRET?token=QUERY-SECRET&a=1",
                "/failing/PATH-SECRET?token=QUERY-SECRET&a=2",
            ],
        )
        results = [
            job["result"] or job["exc_message"]
            for job in self.jobs("_send_ip_change_webhook", ("result", "exc_message"))
        ]
        self.assertEqual(
            results,
            [
                f"Webhook {netloc} answered HTTP 200",
                f"Webhook {netloc} answered HTTP 404",
                f"Webhook {netloc} answered HTTP 500",
                f"Webhook {urlsplit(urls[3]).netloc} unreachable: Connection refused",
                f"Webhook {urlsplit(drip.url).netloc}: no answer within "
                f"{WEBHOOK_DEADLINE} seconds",
            ],
        )
        # every column of every job and message, every log line
        with self.db.cursor() as cr:
            cr.execute(
                "SELECT q::text FROM queue_job q WHERE id > %s",
                (self.last_ids["queue_job"],),
            )
            jobs = [row[0] for row in cr.fetchall()]
            cr.execute(
                "SELECT m::text FROM mail_message m WHERE id > %s",
                (self.last_ids["mail_message"],),
            )
            messages = [row[0] for row in cr.fetchall()]
        self.assertEqual(len(jobs), 6)
        # the administrators' message, queue_job's messages on failed jobs
        self.assertGreater(len(messages), 1)
        lines = [
            record.getMessage() + (record.exc_text or "") for record in logs.records
        ]
        self.assertTrue(any("answered HTTP 404" in line for line in lines))
        for text in jobs + messages + lines:
            for secret in SECRETS:
                self.assertNotIn(secret, text)
