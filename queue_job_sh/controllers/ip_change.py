# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``GET /_odoo.sh/ip-change``: Odoo.sh's notification of a new IP address.

On production, Odoo.sh lets only itself reach this route (others get a 403
from the platform), so the addon adds no secret of its own. On staging and
development the route is open, for testing: there the change is recorded
as a simulation (see ``queue.job.sh.ip.change``), at most one per interval;
more frequent notifications get a 429. Outside Odoo.sh (no ``ODOO_STAGE``)
nothing guards the route: it answers 404 unless the
``ip_change_without_stage`` setting opens it.
"""

import ipaddress
import logging
import os

from odoo import SUPERUSER_ID, http
from odoo.http import request

from ..models.queue_job_sh_ip_change import route_open_without_stage

_logger = logging.getLogger(__name__)

# The longest textual IPv6 address, IPv4-mapped, is 45 characters.
MAX_ADDRESS_LENGTH = 64


class InvalidIpChange(ValueError):
    """The request's arguments are not a valid change; the message is the
    short reason sent back with the 400."""


def _address(args, name):
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
    return str(address)


def parse_ip_change_args(args):
    """``(old, new)``, normalized, from the query arguments ``args`` (a
    werkzeug ``MultiDict``). The new address comes as ``ip`` (Odoo.sh FAQ)
    or ``new`` (Odoo's online documentation); both are accepted, and both
    together if they agree. Raises ``InvalidIpChange``."""
    ip = _address(args, "ip")
    new = _address(args, "new")
    old = _address(args, "old")
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
        "/_odoo.sh/ip-change",
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        save_session=False,
        readonly=False,
    )
    def ip_change(self, **kwargs):
        # read at each call: tests and the platform set it per process
        stage = os.environ.get("ODOO_STAGE") or ""
        if not stage and not route_open_without_stage():
            raise request.not_found()
        # werkzeug routes HEAD to GET rules; a HEAD must not record anything
        if request.httprequest.method != "GET":
            return _text_response("only GET", 405, [("Allow", "GET")])
        try:
            old, new = parse_ip_change_args(request.httprequest.args)
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
                "too frequent: one change per interval on this stage",
                429,
                [("Retry-After", str(recording.retry_after))],
            )
        return _text_response("ok")
