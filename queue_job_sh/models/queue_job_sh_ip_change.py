# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Reactions to Odoo.sh's IP change notification (``/_odoo.sh/ip-change``).

The controller validates the request and calls :meth:`_record_ip_change`,
which records the change in system parameters and enqueues one job,
:meth:`_react_to_ip_change`. That job runs the reactions in one transaction:
the hook other addons extend (:meth:`_on_ip_change` on production,
:meth:`_on_ip_change_simulation` on the other stages), a message to the
administrators, and one webhook job per configured URL
(:meth:`_send_ip_change_webhook`), each with its own retries.
"""

import logging
from collections import namedtuple
from urllib.parse import urlsplit

import requests
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.queue_job.exception import RetryableJobError

_logger = logging.getLogger(__name__)

PRODUCTION = "production"

IpParams = namedtuple("IpParams", "current previous date")
# What was recorded, per mode: real changes on production, simulated ones on
# the other stages (never mixed, so a staging test cannot overwrite what a
# copy of the production database knows).
PRODUCTION_PARAMS = IpParams(
    "queue_job_sh.ip_change.current",
    "queue_job_sh.ip_change.previous",
    "queue_job_sh.ip_change.date",
)
SIMULATION_PARAMS = IpParams(
    "queue_job_sh.ip_change.simulation.current",
    "queue_job_sh.ip_change.simulation.previous",
    "queue_job_sh.ip_change.simulation.date",
)
# Settings
WEBHOOK_URLS_PARAM = "queue_job_sh.ip_change.webhook_urls"
WEBHOOK_ON_SIMULATION_PARAM = "queue_job_sh.ip_change.webhook_on_simulation"

WEBHOOK_TIMEOUT = 10  # seconds, for connecting and for each read
# Retries follow the retry pattern of the webhook's job function (data file).
WEBHOOK_MAX_RETRIES = 10
WEBHOOK_BODY_EXCERPT = 200  # characters of an error response shown on the job


def is_simulation(stage):
    return stage != PRODUCTION


def parse_webhook_urls(text):
    """The webhook URLs in ``text`` (whitespace or comma separated).

    Raises ``ValueError`` naming the first value that is not an http(s) URL.
    """
    urls = []
    for url in (text or "").replace(",", " ").split():
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(url)
        if url not in urls:
            urls.append(url)
    return urls


class QueueJobShIpChange(models.AbstractModel):
    _name = "queue.job.sh.ip.change"
    _description = "Odoo.sh IP Change Reactions"

    # ------------------------------------------------------------------
    # Extension points
    # ------------------------------------------------------------------
    @api.model
    def _on_ip_change(self, old, new):
        """React to a change of the production instance's IP address.

        Called once per change, on ``ODOO_STAGE=production`` only, in the
        reaction job (as the superuser). Override it to update a firewall,
        an ``ir.config_parameter``, a partner's allow-list, etc. Raise
        ``RetryableJobError`` to retry later: the whole reaction (this hook,
        the administrators' message, the webhooks) is rolled back and run
        again.
        """

    @api.model
    def _on_ip_change_simulation(self, old, new):
        """Counterpart of :meth:`_on_ip_change` on staging and development.

        Staging databases are copies of production: this method, not
        :meth:`_on_ip_change`, runs there, so that a test call never acts
        on production systems. Override it to test your reaction safely.
        """

    # ------------------------------------------------------------------
    # Recording (called by the controller)
    # ------------------------------------------------------------------
    @api.model
    def _ip_params(self, simulation):
        return SIMULATION_PARAMS if simulation else PRODUCTION_PARAMS

    @api.model
    def _lock_param(self, key):
        """Return the value of parameter ``key``, locked until the end of
        the transaction; the row is created (empty) if missing.

        Serializes concurrent notifications: the second of two identical
        calls waits here for the first one's transaction. Odoo runs
        requests in REPEATABLE READ, so once the first one commits, the
        second fails with a serialization error (the row it waits for was
        inserted or updated after its snapshot); Odoo retries the whole
        request, which then sees the recorded change and does nothing.
        The INSERT gives the first notification ever a row to lock too.
        """
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "INSERT INTO ir_config_parameter "
                "(key, value, create_uid, create_date, write_uid, write_date) "
                "VALUES (%s, '', %s, now() at time zone 'UTC', "
                "%s, now() at time zone 'UTC') ON CONFLICT (key) DO NOTHING",
                key,
                self.env.uid,
                self.env.uid,
            )
        )
        self.env.cr.execute(
            SQL(
                "SELECT value FROM ir_config_parameter WHERE key = %s "
                "FOR NO KEY UPDATE",
                key,
            )
        )
        value = self.env.cr.fetchone()[0]
        self.env["ir.config_parameter"].invalidate_model()
        return value or None

    @api.model
    def _record_ip_change(self, old, new, stage):
        """Record a validated change and enqueue its reaction job.

        ``stage`` is the value of ``ODOO_STAGE``: anything but
        ``production`` is a simulation, recorded in parameters of its own.
        Returns the delayed job, or None when ``new`` is already the
        recorded address (a repeated notification).
        """
        simulation = is_simulation(stage)
        params = self._ip_params(simulation)
        current = self._lock_param(params.current)
        if current == new:
            _logger.info(
                "%sIP address change from %s to %s already recorded, ignored",
                "Simulation: " if simulation else "",
                old,
                new,
            )
            return None
        at = fields.Datetime.to_string(fields.Datetime.now())
        config = self.env["ir.config_parameter"].sudo()
        config.set_param(params.current, new)
        config.set_param(params.previous, old)
        config.set_param(params.date, at)
        if simulation:
            _logger.info(
                "Simulation of IP address change from %s to %s (stage %r)",
                old,
                new,
                stage,
            )
        else:
            _logger.info("IP address changed from %s to %s", old, new)
        if current and current != old:
            _logger.info(
                "The previous IP address recorded was %s, not %s", current, old
            )
        description = (
            _("Odoo.sh IP change simulation (%(stage)s): %(old)s → %(new)s")
            if simulation
            else _("Odoo.sh IP change: %(old)s → %(new)s")
        ) % {"stage": stage or _("no stage"), "old": old, "new": new}
        # No identity_key: the lock above already makes one job per change,
        # and a key on (old, new) would wrongly swallow the last change of
        # a quick A -> B -> A -> B sequence while the first A -> B job is
        # still pending.
        return self.with_delay(description=description)._react_to_ip_change(
            old, new, at, stage
        )

    # ------------------------------------------------------------------
    # The reaction job
    # ------------------------------------------------------------------
    @api.model
    def _react_to_ip_change(self, old, new, at, stage):
        """Job: run the reactions to one recorded change."""
        simulation = is_simulation(stage)
        if simulation:
            self._on_ip_change_simulation(old, new)
        else:
            self._on_ip_change(old, new)
        urls = self._ip_change_webhook_urls(simulation)
        payload = {
            "db": self.env.cr.dbname,
            "stage": stage or None,
            "old": old,
            "new": new,
            "at": fields.Datetime.from_string(at).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for url in urls:
            self.with_delay(
                description=_("Odoo.sh IP change webhook: %s") % url,
                max_retries=WEBHOOK_MAX_RETRIES,
            )._send_ip_change_webhook(url, payload)
        admins = self._notify_ip_change(old, new, at, stage, len(urls))
        return _(
            "%(admins)s administrator(s) notified, %(webhooks)s webhook(s) enqueued"
        ) % {"admins": len(admins), "webhooks": len(urls)}

    @api.model
    def _ip_change_webhook_urls(self, simulation):
        config = self.env["ir.config_parameter"].sudo()
        if simulation and not config.get_param(WEBHOOK_ON_SIMULATION_PARAM):
            return []
        try:
            return parse_webhook_urls(config.get_param(WEBHOOK_URLS_PARAM))
        except ValueError as error:
            raise UserError(
                _("Invalid IP change webhook URL: %s", error.args[0])
            ) from error

    @api.model
    def _ip_change_admins(self):
        """The users told about a change: the active internal
        administrators (Settings group), OdooBot excepted."""
        return (
            self.env["res.users"]
            .sudo()
            .search(
                [
                    ("groups_id", "in", self.env.ref("base.group_system").id),
                    ("share", "=", False),
                    ("id", "!=", self.env.ref("base.user_root").id),
                ]
            )
        )

    @api.model
    def _notify_ip_change(self, old, new, at, stage, webhook_count):
        """Tell the administrators: an Inbox notification, or an email for
        those who chose to receive notifications by email."""
        admins = self._ip_change_admins()
        if not admins:
            return admins
        values = {
            "old": old,
            "new": new,
            "at": at,
            "stage": stage or _("not set"),
            "webhooks": webhook_count,
        }
        if is_simulation(stage):
            subject = _("Simulation: Odoo.sh IP address change (%(stage)s)") % values
            text = _(
                "Simulation on stage %(stage)s: the IP address change from "
                "%(old)s to %(new)s was recorded at %(at)s (UTC) as a test. "
                "Nothing changed on production. %(webhooks)s webhook(s) "
                "enqueued."
            )
        else:
            subject = _("Odoo.sh: the IP address changed")
            text = _(
                "The IP address of this production instance changed from "
                "%(old)s to %(new)s at %(at)s (UTC). %(webhooks)s webhook(s) "
                "enqueued."
            )
        self.env["mail.thread"].sudo().message_notify(
            partner_ids=admins.partner_id.ids,
            author_id=self.env.ref("base.partner_root").id,
            subject=subject,
            body=Markup("<p>%s</p>") % (text % values),
        )
        return admins

    # ------------------------------------------------------------------
    # The webhook job
    # ------------------------------------------------------------------
    @api.model
    def _send_ip_change_webhook(self, url, payload):
        """Job: POST ``payload`` as JSON to ``url``.

        Network errors and 5xx answers are retried (``RetryableJobError``,
        delays from the job function's retry pattern); any other answer
        but 2xx fails the job with the status and the start of the body.
        Redirects are not followed: they would turn the POST into a GET.
        """
        try:
            response = requests.post(
                url, json=payload, timeout=WEBHOOK_TIMEOUT, allow_redirects=False
            )
        except requests.RequestException as error:
            raise RetryableJobError(
                _("Webhook %(url)s unreachable: %(error)s")
                % {"url": url, "error": error}
            ) from error
        status = response.status_code
        excerpt = (response.text or "")[:WEBHOOK_BODY_EXCERPT]
        if status >= 500:
            raise RetryableJobError(
                _("Webhook %(url)s answered HTTP %(status)s: %(body)s")
                % {"url": url, "status": status, "body": excerpt}
            )
        if not 200 <= status < 300:
            raise UserError(
                _("Webhook %(url)s answered HTTP %(status)s: %(body)s")
                % {"url": url, "status": status, "body": excerpt}
            )
        return _("Webhook %(url)s answered HTTP %(status)s") % {
            "url": url,
            "status": status,
        }
