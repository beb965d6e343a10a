# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Reactions to Odoo.sh's IP change notification (``/_odoo.sh/ip-change``).

The controller validates the request and calls :meth:`_record_ip_change`,
which records the change in system parameters and enqueues one job,
:meth:`_react_to_ip_change`. On every stage but production it records at
most one change per interval (the ``ip_change_interval`` setting, 60
seconds by default) and counts the notifications it refuses. The job runs
the reactions in one transaction: the hook other addons extend
(:meth:`_on_ip_change` on production, :meth:`_on_ip_change_simulation` on
the other stages), a message to the administrators, and one webhook job
per configured URL (:meth:`_send_ip_change_webhook`), each with its own
retries.
"""

import logging
import math
from collections import namedtuple
from urllib.parse import urlsplit

import psycopg2
import requests
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.queue_job.exception import RetryableJobError

from .. import odoo_series, settings

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
# Notifications refused since the last simulated change was recorded
SIMULATION_REFUSED_PARAM = "queue_job_sh.ip_change.simulation.refused"
# Settings
WEBHOOK_URLS_PARAM = "queue_job_sh.ip_change.webhook_urls"
WEBHOOK_ON_SIMULATION_PARAM = "queue_job_sh.ip_change.webhook_on_simulation"

WEBHOOK_TIMEOUT = 10  # seconds, for connecting and for each read
# Retries follow the retry pattern of the webhook's job function (data file).
WEBHOOK_MAX_RETRIES = 10
WEBHOOK_BODY_EXCERPT = 200  # characters of an error response shown on the job
# Seconds between two simulated changes recorded by one database, unless the
# ip_change_interval setting says otherwise.
DEFAULT_SIMULATION_INTERVAL = 60
# Tries of the refusal count's own transaction (see _count_refused_simulation).
COUNT_TRIES = 5

# What _record_ip_change did: the reaction job it enqueued (None for a
# repeated or refused notification), and for a refused one the seconds
# before a change can be recorded again (0 otherwise).
IpChangeRecording = namedtuple("IpChangeRecording", "job retry_after")


def is_simulation(stage):
    return stage != PRODUCTION


def route_open_without_stage():
    """Whether the route answers on a server without ``ODOO_STAGE``, that
    is outside Odoo.sh, where no platform guards it: the
    ``ip_change_without_stage`` setting (1 or 0), off by default."""
    return settings.flag("ip_change_without_stage", False)


def simulation_interval():
    """Seconds between two recorded simulated changes: the
    ``ip_change_interval`` setting, a whole number of at least 1, else 60."""
    value = settings.setting("ip_change_interval")
    if value is None:
        return DEFAULT_SIMULATION_INTERVAL
    try:
        seconds = int(value)
    except ValueError:
        seconds = 0
    if seconds < 1:
        _logger.error(
            "Invalid queue_job_sh setting ip_change_interval %r: not a whole "
            "number of seconds of at least 1; %s seconds used",
            value,
            DEFAULT_SIMULATION_INTERVAL,
        )
        return DEFAULT_SIMULATION_INTERVAL
    return seconds


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
        That expected, retried error is not logged as a bad query.
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
            ),
            log_exceptions=False,
        )
        self.env.cr.execute(
            SQL(
                "SELECT value FROM ir_config_parameter WHERE key = %s "
                "FOR NO KEY UPDATE",
                key,
            ),
            log_exceptions=False,
        )
        value = self.env.cr.fetchone()[0]
        self.env["ir.config_parameter"].invalidate_model()
        return value or None

    @api.model
    def _record_ip_change(self, old, new, stage):
        """Record a validated change and enqueue its reaction job.

        ``stage`` is the value of ``ODOO_STAGE`` (empty when unset):
        anything but ``production`` is a simulation, recorded in parameters
        of its own, at most once per :func:`simulation_interval`. Returns an
        ``IpChangeRecording``: the delayed job, or no job when ``new`` is
        already the recorded address (a repeated notification) or when the
        simulation came too soon after the last one (then ``retry_after``
        says how many seconds are left).
        """
        simulation = is_simulation(stage)
        params = self._ip_params(simulation)
        refused = 0
        if simulation:
            retry_after = self._simulation_retry_after()
            if retry_after:
                _logger.info(
                    "Simulation of IP address change from %s to %s refused: "
                    "too frequent, %s seconds left",
                    old,
                    new,
                    retry_after,
                )
                self._count_refused_simulation()
                return IpChangeRecording(None, retry_after)
        # Serializes the recordings (see _lock_param). On the other stages it
        # also confirms _simulation_retry_after: had a change been recorded
        # after this transaction's snapshot, the lock would have failed.
        current = self._lock_param(params.current)
        if current == new:
            _logger.info(
                "%sIP address change from %s to %s already recorded, ignored",
                "Simulation: " if simulation else "",
                old,
                new,
            )
            return IpChangeRecording(None, 0)
        if simulation:
            refused = self._take_refused_simulations()
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
        job = self.with_delay(description=description)._react_to_ip_change(
            old, new, at, stage, refused
        )
        return IpChangeRecording(job, 0)

    @api.model
    def _simulation_retry_after(self):
        """Seconds before another simulated change may be recorded: 0 when
        none was, or the last one is at least the interval old.

        Read in this transaction's snapshot, not through the parameters'
        cache, and without a lock, so that refusing a flood of notifications
        costs one read each: a date read here is never later than the true
        one, so a refusal is always right. An acceptance is confirmed by the
        lock :meth:`_record_ip_change` takes next.
        """
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT value FROM ir_config_parameter WHERE key = %s",
                SIMULATION_PARAMS.date,
            )
        )
        row = self.env.cr.fetchone()
        if not row or not row[0]:
            return 0
        elapsed = fields.Datetime.now() - fields.Datetime.from_string(row[0])
        return max(0, math.ceil(simulation_interval() - elapsed.total_seconds()))

    @api.model
    def _count_refused_simulation(self):
        """Add one to the notifications refused since the last recorded
        simulated change (``SIMULATION_REFUSED_PARAM``).

        Counted in a transaction of its own, committed at once: the
        request's transaction (REPEATABLE READ) started before the refusals
        that other HTTP workers committed meanwhile, so its update would
        fail with a serialization error, and Odoo would retry the whole
        request after sleeping up to seconds in the worker, for each
        refused request of a flood. This one-statement transaction fails
        only when another refusal holds the row at that instant; it is then
        tried again at once, with a new snapshot. The count is committed
        even though the request records nothing else.
        """
        query = SQL(
            "INSERT INTO ir_config_parameter "
            "(key, value, create_uid, create_date, write_uid, write_date) "
            "VALUES (%s, '1', %s, now() at time zone 'UTC', "
            "%s, now() at time zone 'UTC') "
            "ON CONFLICT (key) DO UPDATE SET value = CASE "
            "WHEN ir_config_parameter.value ~ '^[0-9]{1,9}$' "
            "THEN (ir_config_parameter.value::integer + 1)::text ELSE '1' END, "
            "write_date = EXCLUDED.write_date",
            SIMULATION_REFUSED_PARAM,
            self.env.uid,
            self.env.uid,
        )
        for attempt in range(1, COUNT_TRIES + 1):
            try:
                # commits when the block ends without error
                with self.env.registry.cursor() as cr:
                    cr.execute(query, log_exceptions=False)
                return
            except psycopg2.errors.SerializationFailure:
                if attempt == COUNT_TRIES:
                    _logger.warning(
                        "Refused IP change simulation not counted: the count "
                        "was updated concurrently %s times",
                        COUNT_TRIES,
                    )

    @api.model
    def _take_refused_simulations(self):
        """The notifications refused since the last recorded simulated
        change; the count starts again from 0.

        The row is deleted in this transaction: a refusal counted after
        this transaction's snapshot fails the deletion with a serialization
        error, and Odoo retries the request, which then counts it.
        """
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "DELETE FROM ir_config_parameter WHERE key = %s RETURNING value",
                SIMULATION_REFUSED_PARAM,
            ),
            log_exceptions=False,
        )
        row = self.env.cr.fetchone()
        return int(row[0]) if row and row[0].isdigit() else 0

    # ------------------------------------------------------------------
    # The reaction job
    # ------------------------------------------------------------------
    @api.model
    def _react_to_ip_change(self, old, new, at, stage, refused=0):
        """Job: run the reactions to one recorded change. ``refused``
        counts the simulated changes refused as too frequent before it."""
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
        admins = self._notify_ip_change(old, new, at, stage, len(urls), refused)
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
                odoo_series.admin_users_domain(self.env)
                + [
                    ("share", "=", False),
                    ("id", "!=", self.env.ref("base.user_root").id),
                ]
            )
        )

    @api.model
    def _notify_ip_change(self, old, new, at, stage, webhook_count, refused=0):
        """Tell the administrators: an Inbox notification, or an email for
        those who chose to receive notifications by email. ``refused``
        simulated changes refused as too frequent are mentioned."""
        admins = self._ip_change_admins()
        if not admins:
            return admins
        values = {
            "old": old,
            "new": new,
            "at": at,
            "stage": stage or _("not set"),
            "webhooks": webhook_count,
            "refused": refused,
        }
        if is_simulation(stage):
            subject = _("Simulation: Odoo.sh IP address change (%(stage)s)") % values
            text = _(
                "Simulation on stage %(stage)s: the IP address change from "
                "%(old)s to %(new)s was recorded at %(at)s (UTC) as a test. "
                "Nothing changed on production. %(webhooks)s webhook(s) "
                "enqueued."
            )
            if refused:
                text += " " + _(
                    "Since the previous simulation, %(refused)s change(s) were "
                    "refused as too frequent."
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
