# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``GET /_odoo.sh/ip-change``: Odoo.sh's notification of a new IP address.

On production, Odoo.sh lets only itself reach this route (others get a 403
from the platform). That rule matches the path as sent; Odoo decodes and
normalizes paths before routing (``/_odoo.sh/ip-change/``,
``/_odoo.sh/ip%2Dchange``, ``/%5Fodoo.sh/ip-change`` reach the same
endpoint), so the route answers only requests whose path, as sent, is
exactly ``/_odoo.sh/ip-change``: any other form gets a 404 and records
nothing. Production also accepts only globally routable addresses, and
records at most 3 changes a day (see ``queue.job.sh.ip.change``). On
staging and development the route is open, for testing: there the change
is recorded as a simulation, at most one per interval; more frequent
notifications get a 429. Outside Odoo.sh (no ``ODOO_STAGE``) nothing guards
the route: it answers 404 unless the ``ip_change_without_stage`` setting
opens it.
"""

import ipaddress
import logging

from werkzeug.serving import WSGIRequestHandler

from odoo import SUPERUSER_ID, http
from odoo.http import request

from ..models.queue_job_sh_ip_change import (
    IP_CHANGE_PATH,
    current_stage,
    is_simulation,
    route_open_without_stage,
)

_logger = logging.getLogger(__name__)

# The longest textual IPv6 address, IPv4-mapped, is 45 characters.
MAX_ADDRESS_LENGTH = 64


class InvalidIpChange(ValueError):
    """The request's arguments are not a valid change; the message is the
    short reason sent back with the 400."""


# The request target of the request line, as the client sent it
REQUEST_TARGET_KEY = "queue_job_sh.request_target"


def _make_environ(self):
    """werkzeug's ``WSGIRequestHandler.make_environ``, plus the request
    target as it came in the request line (``REQUEST_TARGET_KEY``).

    Python's HTTP server reduces a path that starts with ``//`` to one
    slash before werkzeug builds the environment (an open redirect fix of
    2022), so ``REQUEST_URI`` shows ``//_odoo.sh/ip-change`` as the route's
    own path. Odoo's servers, threaded and prefork, use this handler; a
    server started with ``--database`` imports this module before it
    forks its workers, others from their first request on.
    """
    environ = _werkzeug_make_environ(self)
    words = self.requestline.split()
    if len(words) >= 2:
        environ[REQUEST_TARGET_KEY] = words[1]
    return environ


_werkzeug_make_environ = WSGIRequestHandler.make_environ
WSGIRequestHandler.make_environ = _make_environ


def requested_path():
    """The path of the request as the client sent it, before any decoding
    or normalization, up to its query: the request line's (see
    :func:`_make_environ`), else ``REQUEST_URI`` as werkzeug's server,
    uWSGI and mod_wsgi set it, else gunicorn's ``RAW_URI``; empty when
    the server set none. (Odoo's reroutes rewrite ``RAW_URI`` and keep
    ``REQUEST_URI``.)"""
    environ = request.httprequest.environ
    uri = (
        environ.get(REQUEST_TARGET_KEY)
        or environ.get("REQUEST_URI")
        or environ.get("RAW_URI")
        or ""
    )
    return uri.partition("?")[0]


def is_public_address(address):
    """Whether ``address`` (an ``ipaddress`` address) is globally routable:
    not private, loopback, link-local, shared, documentation, reserved,
    unspecified, multicast or site-local."""
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or getattr(address, "is_site_local", False)
    )


def _address(args, name, public_only):
    values = args.getlist(name)
    if len(values) > 1:
        raise InvalidIpChange(f"{name} given more than once")
    value = values[0].strip() if values else ""
    if not value:
        return None
    if len(value) > MAX_ADDRESS_LENGTH:
        raise InvalidIpChange(f"{name} is too long")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise InvalidIpChange(f"{name} is not an IPv4 or IPv6 address") from None
    if getattr(address, "scope_id", None):
        # "fe80::1%<anything>" parses, but is no public address
        raise InvalidIpChange(f"{name} is not an IPv4 or IPv6 address")
    if public_only and not is_public_address(address):
        raise InvalidIpChange(f"{name} is not a globally routable address")
    return str(address)


def parse_ip_change_args(args, public_only):
    """``(old, new)``, normalized, from the query arguments ``args`` (a
    werkzeug ``MultiDict``). The new address comes as ``ip`` (Odoo.sh FAQ)
    or ``new`` (Odoo's online documentation); both are accepted, and both
    together if they agree. With ``public_only`` (production), both must be
    globally routable. Raises ``InvalidIpChange``."""
    ip = _address(args, "ip", public_only)
    new = _address(args, "new", public_only)
    old = _address(args, "old", public_only)
    if ip and new and ip != new:
        raise InvalidIpChange("ip and new differ")
    new = ip or new
    if not new:
        raise InvalidIpChange("missing new address (ip or new)")
    if not old:
        raise InvalidIpChange("missing old address (old)")
    if old == new:
        raise InvalidIpChange("old and new are the same address")
    return old, new


def _text_response(text, status=200, headers=()):
    return request.make_response(
        text,
        headers=[
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Cache-Control", "no-store"),
            *headers,
        ],
        status=status,
    )


class IpChangeController(http.Controller):
    @http.route(
        IP_CHANGE_PATH,
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        save_session=False,
        readonly=False,
    )
    def ip_change(self, **kwargs):
        if requested_path() != IP_CHANGE_PATH:
            raise request.not_found()
        stage = current_stage()
        if not stage and not route_open_without_stage():
            raise request.not_found()
        # werkzeug routes HEAD to GET rules; a HEAD must not record anything
        if request.httprequest.method != "GET":
            return _text_response("only GET", 405, [("Allow", "GET")])
        try:
            old, new = parse_ip_change_args(
                request.httprequest.args, public_only=not is_simulation(stage)
            )
        except InvalidIpChange as error:
            _logger.info("Rejected IP change notification: %s", error)
            return _text_response(str(error), 400)
        recording = (
            request.env["queue.job.sh.ip.change"]
            .with_user(SUPERUSER_ID)
            ._record_ip_change(old, new, stage)
        )
        if recording.retry_after:
            return _text_response(
                "too frequent: one change per interval on this stage"
                if is_simulation(stage)
                else "too frequent",
                429,
                [("Retry-After", str(recording.retry_after))],
            )
        return _text_response("ok")
