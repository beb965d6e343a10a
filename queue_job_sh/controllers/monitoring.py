# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``GET /queue_job_sh/health`` (uptime monitors) and ``GET
/queue_job_sh/metrics`` (Prometheus), opened by the monitoring token.

The token (system parameter ``queue_job_sh.monitoring_token``, shown in
Settings) comes as ``Authorization: Bearer <token>``, or as the query
parameter ``token`` for monitors that cannot set a header (weaker: a URL
ends up in access logs). Anything else — no token, a wrong one, a method
other than GET (or HEAD) — gets exactly the answer Odoo gives for a URL that
no database serves (its 404 page), through no error handler. So a refused
request cannot tell a database that exists (or has the addon) from one that
does not.

The database is the one Odoo picks for any request: on a server with
several (and no session cookie, which monitors do not send), the only one
that ``--db-filter`` leaves for the request's host (e.g. ``^%d$``:
``mydb.example.com`` serves ``mydb``); with Odoo 19 also the
``X-Odoo-Database`` header, checked against the filter. The session's user
plays no part (``auth="none"``) and no session is written
(``save_session=False``).

The routes only read, but from the primary database, not from a read
replica (``readonly=False``): the check of queue_job's HTTP jobrunner reads
the primary's ``pg_locks``, and a replica may lag.
"""

import hmac
import json

from werkzeug.exceptions import NotFound

from odoo import SUPERUSER_ID, http
from odoo.http import request

from .. import odoo_series, prometheus_text
from ..models.queue_job_sh_monitoring import TOKEN_PARAM

ALLOWED_METHODS = ("GET", "HEAD")


def presented_token(httprequest):
    """The token a request presents: the bearer token of its
    ``Authorization`` header, else its single ``token`` query parameter;
    None without either."""
    scheme, _space, credentials = httprequest.headers.get(
        "Authorization", ""
    ).partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    tokens = httprequest.args.getlist("token")
    return tokens[0] if len(tokens) == 1 else None


def token_matches(presented, expected):
    """Whether ``presented`` is the token ``expected`` (none: nothing is),
    compared in constant time."""
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def refused():
    """The exception that answers a refused request: the 404 that Odoo
    answers where no database serves the URL (``Application.__call__``
    sends it as is). Its ``error_response`` is itself, so that no handler
    of the database (a website's 404 page) changes it."""
    error = NotFound()
    page = odoo_series.nodb_not_found_page()
    if page is not None:
        error.response = http.Response(
            page,
            status=error.code,
            headers=[("Content-Type", "text/html; charset=utf-8")],
        )
    error.error_response = error
    return error


def _response(body, content_type, status=200):
    return request.make_response(
        body,
        headers=[("Content-Type", content_type), ("Cache-Control", "no-store")],
        status=status,
    )


class MonitoringController(http.Controller):
    def _monitoring(self):
        """``queue.job.sh.monitoring`` as the superuser, for a GET that
        presents the token; raises :func:`refused` otherwise."""
        httprequest = request.httprequest
        if httprequest.method not in ALLOWED_METHODS:
            raise refused()
        env = request.env(user=SUPERUSER_ID)
        expected = env["ir.config_parameter"].get_param(TOKEN_PARAM)
        if not token_matches(presented_token(httprequest), expected):
            raise refused()
        return env["queue.job.sh.monitoring"]

    # Every method reaches the routes, so that the others get the same 404
    # as a wrong token (werkzeug would answer them 405: the route exists).
    @http.route(
        "/queue_job_sh/health",
        type="http",
        auth="none",
        csrf=False,
        save_session=False,
        readonly=False,  # the primary (see the module's docstring)
    )
    def health(self, **_params):
        """200 with ``{"status": "ok", "db"}`` when jobs flow, else 503 with
        ``{"status": "failing", "db", "problems": [{"code", "level",
        "message"}]}``."""
        healthy, body = self._monitoring()._health()
        return _response(
            json.dumps(body), "application/json; charset=utf-8", 200 if healthy else 503
        )

    @http.route(
        "/queue_job_sh/metrics",
        type="http",
        auth="none",
        csrf=False,
        save_session=False,
        readonly=False,  # the primary (see the module's docstring)
    )
    def metrics(self, **_params):
        """Prometheus' text exposition format (docs/monitoring.md)."""
        return _response(self._monitoring()._metrics(), prometheus_text.CONTENT_TYPE)
