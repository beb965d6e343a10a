# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A signed webhook call that cannot hold its caller: an HTTP(S) POST with
one deadline for the whole call and a cap on what is read of the answer.

Plain Python (no Odoo import). A webhook job runs in a runner's time: a
receiver that answers slowly (a byte now and then) or endlessly must not
keep it longer than the deadline. The sockets used here check the deadline
and count the bytes received before every read and write, so that each
blocking call is given only the time left, and the answer is read no
further than its status line and headers (the body is never read).

Name resolution (``getaddrinfo``) is the one step outside the deadline: it
is the system resolver's, with the resolver's own timeouts.
"""

import base64
import hashlib
import hmac
import http.client
import socket
import ssl
import time
from urllib.parse import unquote, urlsplit

SIGNATURE_HEADER = "X-Queue-Job-Sh-Signature"
# What is read of an answer at most: its status line and headers, with the
# part of the body that comes in the same reads. Real answers need a few
# hundred bytes.
MAX_ANSWER_BYTES = 64 * 1024


class DeadlinePassed(TimeoutError):
    """The call did not end before its deadline."""


class AnswerTooLarge(Exception):
    """The receiver sent more than ``MAX_ANSWER_BYTES`` before the end of
    its headers."""


def signature(secret, body):
    """The signature header's value for ``body`` (bytes): ``sha256=`` and
    the hex HMAC-SHA256 of the body keyed with ``secret``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def url_host(url):
    """What messages may say of ``url``: its host and port, never its user,
    path or query (which often carry a secret)."""
    return urlsplit(url).netloc.rpartition("@")[2]


class _Bounded:
    """Socket methods that give each read and write only the time left
    before ``deadline`` (a ``time.monotonic()`` value) and stop reading
    after ``MAX_ANSWER_BYTES``."""

    deadline = None
    received = 0

    def _arm(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlinePassed()
        self.settimeout(left)

    def _count(self, size):
        self.received += size
        if self.received > MAX_ANSWER_BYTES:
            raise AnswerTooLarge()
        return size

    def recv_into(self, *args, **kwargs):
        self._arm()
        return self._count(super().recv_into(*args, **kwargs))

    def recv(self, *args, **kwargs):
        self._arm()
        data = super().recv(*args, **kwargs)
        self._count(len(data))
        return data

    def send(self, *args, **kwargs):
        self._arm()
        return super().send(*args, **kwargs)

    def sendall(self, *args, **kwargs):
        # since Python 3.5 the timeout bounds the whole sendall
        self._arm()
        return super().sendall(*args, **kwargs)


class _BoundedSocket(_Bounded, socket.socket):
    pass


class _BoundedSSLSocket(_Bounded, ssl.SSLSocket):
    pass


def _connect(host, port, deadline):
    """A TCP connection to ``host``, trying its addresses in turn within
    the time left."""
    error = None
    for family, kind, proto, _name, address in socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM
    ):
        sock = _BoundedSocket(family, kind, proto)
        sock.deadline = deadline
        try:
            sock._arm()
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError(f"no address for {host}")


def _tls(sock, host, deadline):
    """``sock`` wrapped in TLS, the certificate checked against the
    system's authorities and ``host``; the handshake, which OpenSSL runs
    under one timeout for its whole length, is given the time left."""
    context = ssl.create_default_context()
    context.sslsocket_class = _BoundedSSLSocket
    tls = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
    try:
        tls.deadline = deadline
        tls._arm()
        tls.do_handshake()
    except BaseException:
        tls.close()
        raise
    return tls


def post(url, body, headers, seconds):
    """POST ``body`` (bytes) to ``url`` (http or https) with ``headers``;
    return the answer's status code. The whole call, from the connection
    to the end of the answer's headers, ends within ``seconds``: past that,
    ``DeadlinePassed``. Redirects are not followed. Raises ``OSError`` or
    ``http.client.HTTPException`` for network and protocol errors,
    ``AnswerTooLarge`` for headers over ``MAX_ANSWER_BYTES``."""
    deadline = time.monotonic() + seconds
    parts = urlsplit(url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    sock = _connect(parts.hostname, port, deadline)
    try:
        if https:
            sock = _tls(sock, parts.hostname, deadline)
            connection = http.client.HTTPSConnection(parts.hostname, port)
        else:
            connection = http.client.HTTPConnection(parts.hostname, port)
        connection.sock = sock
        headers = {
            **headers,
            "Connection": "close",
            "User-Agent": "queue_job_sh",
        }
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            token = base64.b64encode(credentials.encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", target, body=body, headers=headers)
        # the body is not read: closed with the connection
        response = connection.getresponse()
        response.close()
        return response.status
    finally:
        sock.close()
