# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What the tests of ``/_odoo.sh/ip-change`` share: addresses, real
webhook receivers, and jobs run on real connections.

The receivers are servers on 127.0.0.1 in threads of the test process: one
that checks signatures as the documentation tells receivers to, and
misbehaving ones (a slow drip, an endless answer, a silent TLS server).
"""

import contextlib
import datetime
import hashlib
import hmac
import http.server
import ipaddress
import os
import pathlib
import socket
import ssl
import tempfile
import threading
import time
from collections import deque
from unittest.mock import patch

from cryptography import x509
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from odoo import SUPERUSER_ID, api
from odoo.sql_db import db_connect
from odoo.tools import SQL

from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.job import Job

from ..models.queue_job_sh_ip_change import (
    WEBHOOK_URLS_PARAM,
    QueueJobShIpChange,
)

MODEL = "queue.job.sh.ip.change"
MODEL_LOGGER = "odoo.addons.queue_job_sh.models.queue_job_sh_ip_change"
QUEUE_JOB_CONTROLLER_LOGGER = "odoo.addons.queue_job.controllers.main"
# Production accepts globally routable addresses only
OLD, NEW, NEWER = "11.22.33.44", "44.33.22.11", "55.66.77.88"
# Documentation addresses (RFC 5737), as in the documentation's examples:
# simulations accept them
DOC_OLD, DOC_NEW = "198.51.100.1", "203.0.113.7"


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


def closed_port_url(path="/hook"):
    """A URL on 127.0.0.1 where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def signature_is_valid(secret, body, header):
    """A receiver's check of the signature header, as docs/ip-change.md
    gives it."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header or "")


class WebhookServer:
    """An HTTP server that records what it receives, checks the signature
    with ``secret`` (401 when it does not match) and answers the statuses
    queued in ``statuses`` (then 200). Its error answers quote the path in
    their body and reason phrase, as many servers do."""

    def __init__(self, secret=None):
        self.requests = []
        self.statuses = deque()
        self.secret = secret
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                signature = self.headers.get("X-Queue-Job-Sh-Signature")
                server.requests.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "signature": signature,
                        "body": body,
                    }
                )
                if server.secret and not signature_is_valid(
                    server.secret, body, signature
                ):
                    status = 401
                else:
                    status = server.statuses.popleft() if server.statuses else 200
                answer = (
                    b"received"
                    if status < 400
                    else f"no hook at {self.path}, sorry".encode()
                )
                self.send_response(status, f"refused {self.path}")
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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


class RawServer:
    """A TCP server on 127.0.0.1 that answers one connection at a time with
    ``answer(connection)``, where ``connection`` is the accepted socket (TLS
    when ``tls`` is a server context). ``sent`` counts the bytes sent by
    the answers, ``closed_at`` is when the last answer ended (the client
    went away), as ``time.monotonic()``."""

    def __init__(self, answer, tls=None):
        self.answer = answer
        self.tls = tls
        self.sent = 0
        self.closed_at = None
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping.is_set():
            try:
                connection, _address = self.sock.accept()
            except TimeoutError:
                continue
            connection.settimeout(None)
            try:
                # an OSError: the client went away
                with contextlib.suppress(OSError):
                    if self.tls:
                        connection = self.tls.wrap_socket(connection, server_side=True)
                    self.answer(self, connection)
            finally:
                self.closed_at = time.monotonic()
                connection.close()

    def send(self, connection, data):
        connection.sendall(data)
        self.sent += len(data)

    def stop(self):
        self.stopping.set()
        self.thread.join()
        self.sock.close()


def read_request(connection):
    """Read a request's headers and body (by its Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _sep, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _colon, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += connection.recv(65536)
    return data


def slow_drip(server, connection):
    """A status line and headers that never end, a byte every 0.2 s."""
    read_request(connection)
    for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Drip: " + b"a" * 10**6:
        server.send(connection, bytes([byte]))
        time.sleep(0.2)


HUNDRED_MB = 100 * 1024 * 1024
CHUNK = b"x" * 65536


def huge_body(server, connection):
    """A 200 answer whose body is 100 MB, sent as fast as the client reads."""
    read_request(connection)
    server.send(
        connection, f"HTTP/1.1 200 OK\r\nContent-Length: {HUNDRED_MB}\r\n\r\n".encode()
    )
    for _chunk in range(HUNDRED_MB // len(CHUNK)):
        server.send(connection, CHUNK)


def huge_headers(server, connection):
    """A status line, then one header line of 100 MB."""
    read_request(connection)
    server.send(connection, b"HTTP/1.1 200 OK\r\nX-Big: ")
    for _chunk in range(HUNDRED_MB // len(CHUNK)):
        server.send(connection, CHUNK)


def silent(server, connection):
    """Accepts, then says nothing until the client leaves (for TLS: no
    handshake at all)."""
    while connection.recv(65536):
        pass


class LocalAuthority:
    """A self-signed certificate for 127.0.0.1, the file a client trusts
    it with, and the server context that uses it."""

    def __init__(self):
        self.folder = tempfile.TemporaryDirectory()
        folder = pathlib.Path(self.folder.name)
        key = rsa.generate_private_key(65537, 2048, default_backend())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.timezone.utc)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256(), default_backend())
        )
        self.cert = folder / "cert.pem"
        self.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file = folder / "key.pem"
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(self.cert, key_file)

    def cleanup(self):
        self.folder.cleanup()


class RealJobsMixin:
    """For a ``TransactionCase`` whose jobs run as under a job runner.

    queue_job stores a retry or a failure from a cursor of its own, then
    rolls the job's cursor back. Test cursors all share one connection and
    nest, so that rollback would also discard what the other cursor stored
    (queue_job 19.0 opens a savepoint around every job, so always). Here
    every cursor is a real connection that commits; what they commit is
    removed at the end. The jobs run on ``ODOO_STAGE=production``.
    """

    # the jobs, their runner wake-ups and the administrators' messages
    TABLES = ("queue_job", "ir_cron_trigger", "mail_message")

    def setUp(self):
        super().setUp()
        environ = patch.dict(os.environ, {"ODOO_STAGE": "production"})
        environ.start()
        self.addCleanup(environ.stop)
        self.db = db_connect(self.env.cr.dbname)
        with self.db.cursor() as cr:
            self.last_ids = {}
            for table in self.TABLES:
                cr.execute(
                    SQL("SELECT COALESCE(max(id), 0) FROM %s", SQL.identifier(table))
                )
                self.last_ids[table] = cr.fetchone()[0]
            cr.execute(
                "SELECT key, value FROM ir_config_parameter "
                "WHERE key LIKE 'queue_job_sh.ip_change.%%'"
            )
            self.kept_params = cr.fetchall()
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
            for key, value in self.kept_params:
                cr.execute(
                    "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)",
                    (key, value),
                )
        # the parameters' cache still holds the deleted values
        self.registry.clear_cache()

    def _env(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {})

    def webhook_secret(self):
        with self.db.cursor() as cr:
            return self._env(cr)[MODEL]._ip_change_webhook_secret()

    def record_change(self, webhook_urls):
        with self.db.cursor() as cr:
            env = self._env(cr)
            env["ir.config_parameter"].set_param(WEBHOOK_URLS_PARAM, webhook_urls)
            env[MODEL]._record_ip_change(OLD, NEW, "production")

    def jobs(self, method, fields=("uuid", "state", "retry", "eta", "result")):
        """The values of the jobs of ``method``, oldest first."""
        with self.db.cursor() as cr:
            return (
                self._env(cr)["queue.job"]
                .search(
                    [
                        ("id", ">", self.last_ids["queue_job"]),
                        ("model_name", "=", MODEL),
                        ("method_name", "=", method),
                    ],
                    order="id",
                )
                .read(list(fields))
            )

    def job(self, method, fields=("uuid", "state", "retry", "eta", "result")):
        """The values of the only job of ``method``."""
        [values] = self.jobs(method, fields)
        return values

    def run_job(self, uuid):
        """Run the job ``uuid`` as queue_job's ``/queue_job/runjob`` route
        does; the exception ``_runjob`` raised (a failed job), if any."""
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

    def run_reaction(self):
        """Run the reaction job; the uuids of the webhook jobs it made."""
        self.assertIsNone(self.run_job(self.job("_react_to_ip_change")["uuid"]))
        return [job["uuid"] for job in self.jobs("_send_ip_change_webhook")]
