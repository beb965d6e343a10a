# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Reactions to Odoo.sh's IP change notification (``/_odoo.sh/ip-change``).

The controller validates the request and calls :meth:`_record_ip_change`,
which records the change in system parameters and enqueues one job,
:meth:`_react_to_ip_change`. On production it records at most
``PRODUCTION_LIMIT`` changes a day; on every other stage at most one change
per interval (the ``ip_change_interval`` setting, 60 seconds by default).
It counts the notifications it refuses. The job runs the reactions in one
transaction: the hook other addons extend (:meth:`_on_ip_change` on
production, :meth:`_on_ip_change_simulation` on the other stages), a
message to the administrators, and one webhook job per configured URL
(:meth:`_send_ip_change_webhook`), each with its own retries.
"""

import hashlib
import hmac
import http.client
import json
import logging
import math
import os
import secrets
from collections import namedtuple
from datetime import timedelta
from urllib.parse import urlsplit

import psycopg2
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.queue_job.exception import RetryableJobError

from .. import odoo_series, settings, webhook

_logger = logging.getLogger(__name__)

PRODUCTION = "production"
# The route's path: it answers only requests sent to exactly this path
IP_CHANGE_PATH = "/_odoo.sh/ip-change"

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
# The dates of the last PRODUCTION_LIMIT recorded production changes,
# oldest first, comma separated
PRODUCTION_RECENT_PARAM = "queue_job_sh.ip_change.recent"
# Notifications refused since the last change was recorded, per mode
PRODUCTION_REFUSED_PARAM = "queue_job_sh.ip_change.refused"
SIMULATION_REFUSED_PARAM = "queue_job_sh.ip_change.simulation.refused"
# Settings
WEBHOOK_URLS_PARAM = "queue_job_sh.ip_change.webhook_urls"
WEBHOOK_ON_SIMULATION_PARAM = "queue_job_sh.ip_change.webhook_on_simulation"
# The key that signs the webhooks' bodies (made by _ip_change_webhook_secret)
WEBHOOK_SECRET_PARAM = "queue_job_sh.ip_change.webhook_secret"

# Production records at most PRODUCTION_LIMIT changes in any
# PRODUCTION_WINDOW seconds. The IP address of an instance changes when it
# moves to another server: a few times a year. Three changes in a day are
# already an incident (a move, its rollback, a second move); past that, a
# flood of notifications would run the hook, the webhooks and an email to
# every administrator for each change.
PRODUCTION_LIMIT = 3
PRODUCTION_WINDOW = 24 * 3600
# Seconds for a whole webhook call: connection, request, answer's headers.
WEBHOOK_DEADLINE = 10
# Retries follow the retry pattern of the webhook's job function (data file).
WEBHOOK_MAX_RETRIES = 10
# Seconds between two simulated changes recorded by one database, unless the
# ip_change_interval setting says otherwise.
DEFAULT_SIMULATION_INTERVAL = 60
# Tries of the refusal count's own transaction (see _count_refused).
COUNT_TRIES = 5

# What _record_ip_change did: the reaction job it enqueued (None for a
# repeated or refused notification), and for a refused one the seconds
# before a change can be recorded again (0 otherwise).
IpChangeRecording = namedtuple("IpChangeRecording", "job retry_after")


def current_stage():
    """This server's ``ODOO_STAGE`` (empty when unset), read at each call:
    tests and the platform set it per process."""
    return os.environ.get("ODOO_STAGE") or ""


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

    Raises ``ValueError`` with the position (from 1) of the first value
    that is not an http(s) URL: errors must not repeat a URL, which may
    hold a secret, since they are logged.
    """
    urls = []
    for number, url in enumerate((text or "").replace(",", " ").split(), 1):
        parts = urlsplit(url)
        try:
            parts.port  # noqa: B018 -- raises on a port that is not a number
        except ValueError:
            raise ValueError(number) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(number)
        if url not in urls:
            urls.append(url)
    return urls


def recent_dates(value):
    """The dates (datetimes) of ``PRODUCTION_RECENT_PARAM``'s ``value``;
    an entry that is not a date is left out."""
    dates = []
    for text in (value or "").split(","):
        try:
            dates.append(fields.Datetime.to_datetime(text.strip()))
        except ValueError:
            continue
    return [date for date in dates if date]


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
        reaction job (as the superuser). ``old`` is the address this
        database had recorded before (the one the previous call of this
        hook received as ``new``), never the one the notification claims;
        ``None`` for the first change the database records. Override it to
        update a firewall, an ``ir.config_parameter``, a partner's
        allow-list, etc. Raise ``RetryableJobError`` to retry later: the
        whole reaction (this hook, the administrators' message, the
        webhooks) is rolled back and run again.
        """

    @api.model
    def _on_ip_change_simulation(self, old, new):
        """Counterpart of :meth:`_on_ip_change` on staging and development,
        with the simulated addresses recorded there.

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
    def _read_params(self, *keys):
        """The values of the parameters ``keys`` in this transaction's
        snapshot (a dict; missing ones are left out), not through the
        parameters' cache, which other transactions fill."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT key, value FROM ir_config_parameter WHERE key IN %s",
                keys,
            )
        )
        return dict(self.env.cr.fetchall())

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
        of its own, at most once per :func:`simulation_interval`; production
        records at most ``PRODUCTION_LIMIT`` changes per
        ``PRODUCTION_WINDOW``. ``old`` is what the notification claims: the
        reactions get the address recorded before instead, and ``old`` is
        only logged when it differs. Returns an ``IpChangeRecording``: the
        delayed job, or no job when ``new`` is already the recorded address
        (a repeated notification) or when the change came too soon (then
        ``retry_after`` says how many seconds are left).
        """
        simulation = is_simulation(stage)
        params = self._ip_params(simulation)
        refused_param = (
            SIMULATION_REFUSED_PARAM if simulation else PRODUCTION_REFUSED_PARAM
        )
        retry_after = (
            self._simulation_retry_after()
            if simulation
            else self._production_retry_after(new)
        )
        if retry_after:
            if simulation:
                _logger.info(
                    "Simulation of IP address change from %s to %s refused: "
                    "too frequent, %s seconds left",
                    old,
                    new,
                    retry_after,
                )
            else:
                _logger.warning(
                    "IP address change from %s to %s refused: %s changes "
                    "recorded in %s hours already, %s seconds left",
                    old,
                    new,
                    PRODUCTION_LIMIT,
                    PRODUCTION_WINDOW // 3600,
                    retry_after,
                )
            self._count_refused(refused_param)
            return IpChangeRecording(None, retry_after)
        # Serializes the recordings (see _lock_param), and confirms the
        # retry_after read above: had a change been recorded after this
        # transaction's snapshot, the lock would have failed.
        current = self._lock_param(params.current)
        if current == new:
            _logger.info(
                "%sIP address change from %s to %s already recorded, ignored",
                "Simulation: " if simulation else "",
                old,
                new,
            )
            return IpChangeRecording(None, 0)
        refused = self._take_refused(refused_param)
        at = fields.Datetime.to_string(fields.Datetime.now())
        config = self.env["ir.config_parameter"].sudo()
        if not simulation:
            # read after the lock: the snapshot holds the latest dates
            recent = recent_dates(
                self._read_params(PRODUCTION_RECENT_PARAM).get(PRODUCTION_RECENT_PARAM)
            )
            dates = [*map(fields.Datetime.to_string, recent), at]
            config.set_param(
                PRODUCTION_RECENT_PARAM, ",".join(dates[-PRODUCTION_LIMIT:])
            )
        config.set_param(params.current, new)
        config.set_param(params.previous, current or False)
        config.set_param(params.date, at)
        if simulation:
            _logger.info(
                "Simulation of IP address change from %s to %s (stage %r)",
                current or "(none recorded)",
                new,
                stage,
            )
        else:
            _logger.info(
                "IP address changed from %s to %s", current or "(none recorded)", new
            )
        if current != old:
            _logger.info(
                "The notification gave %s as the previous IP address; the one "
                "recorded was %s",
                old,
                current or "none",
            )
        description = (
            _("Odoo.sh IP change simulation (%(stage)s): %(old)s → %(new)s")
            if simulation
            else _("Odoo.sh IP change: %(old)s → %(new)s")
        ) % {
            "stage": stage or _("no stage"),
            "old": current or _("none recorded"),
            "new": new,
        }
        # No identity_key: the lock above already makes one job per change,
        # and a key on (old, new) would wrongly swallow the last change of
        # a quick A -> B -> A -> B sequence while the first A -> B job is
        # still pending.
        job = self.with_delay(description=description)._react_to_ip_change(
            current, new, at, stage, refused
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
        date = self._read_params(SIMULATION_PARAMS.date).get(SIMULATION_PARAMS.date)
        if not date:
            return 0
        elapsed = fields.Datetime.now() - fields.Datetime.from_string(date)
        return max(0, math.ceil(simulation_interval() - elapsed.total_seconds()))

    @api.model
    def _production_retry_after(self, new):
        """Seconds before another production change may be recorded: 0
        unless ``PRODUCTION_LIMIT`` changes were recorded in the last
        ``PRODUCTION_WINDOW`` seconds, or when ``new`` is the recorded
        address (a repeat, answered as such after the lock).

        Read like :meth:`_simulation_retry_after`, without a lock: dates are
        only added, so a full window read in this snapshot is full, and a
        refusal is always right; an acceptance is confirmed by the lock.
        """
        values = self._read_params(PRODUCTION_PARAMS.current, PRODUCTION_RECENT_PARAM)
        if values.get(PRODUCTION_PARAMS.current) == new:
            return 0
        dates = recent_dates(values.get(PRODUCTION_RECENT_PARAM))
        if len(dates) < PRODUCTION_LIMIT:
            return 0
        free_at = dates[-PRODUCTION_LIMIT] + timedelta(seconds=PRODUCTION_WINDOW)
        left = (free_at - fields.Datetime.now()).total_seconds()
        return max(0, min(PRODUCTION_WINDOW, math.ceil(left)))

    @api.model
    def _count_refused(self, key):
        """Add one to the notifications refused since the last recorded
        change, in parameter ``key`` (``PRODUCTION_REFUSED_PARAM`` or
        ``SIMULATION_REFUSED_PARAM``).

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
            key,
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
                        "Refused IP change notification not counted: the "
                        "count was updated concurrently %s times",
                        COUNT_TRIES,
                    )

    @api.model
    def _take_refused(self, key):
        """The notifications refused since the last recorded change
        (parameter ``key``); the count starts again from 0.

        The row is deleted in this transaction: a refusal counted after
        this transaction's snapshot fails the deletion with a serialization
        error, and Odoo retries the request, which then counts it.
        """
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "DELETE FROM ir_config_parameter WHERE key = %s RETURNING value",
                key,
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
        """Job: run the reactions to one recorded change. ``old`` is the
        address recorded before it (``None`` for the first one); ``refused``
        counts the changes refused as too frequent before it.

        A production change runs only on production: on a copy of the
        database (a staging build, a restored dump) the job came along with
        the data, and its hook would act on production's systems.
        """
        simulation = is_simulation(stage)
        if not simulation and is_simulation(current_stage()):
            _logger.info(
                "Reaction to a production IP address change not run on " "stage %r",
                current_stage(),
            )
            return _(
                "Not run: a change recorded on production, and this server's "
                "stage is %s"
            ) % (current_stage() or _("not set"))
        if simulation:
            self._on_ip_change_simulation(old, new)
        else:
            self._on_ip_change(old, new)
        urls = self._ip_change_webhook_urls(simulation)
        payload = {
            "db": self.env.cr.dbname,
            "stage": stage or None,
            "simulation": simulation,
            "old": old,
            "new": new,
            "at": fields.Datetime.from_string(at).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for url in urls:
            # the job names the URL by a digest: its name, arguments and
            # messages are readable by job managers, and URLs hold secrets
            self.with_delay(
                description=_("Odoo.sh IP change webhook: %s") % webhook.url_host(url),
                max_retries=WEBHOOK_MAX_RETRIES,
            )._send_ip_change_webhook(self._ip_change_webhook_ref(url), payload)
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
                _(
                    "IP change webhook URL number %s is not an http(s) URL",
                    error.args[0],
                )
            ) from None

    @api.model
    def _ip_change_webhook_ref(self, url):
        """What a webhook job keeps of its URL: a keyed digest, which
        reveals nothing of the URL to those who read the job."""
        key = self.env["ir.config_parameter"].sudo().get_param("database.secret")
        return hmac.new((key or "").encode(), url.encode(), hashlib.sha256).hexdigest()[
            :32
        ]

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
        changes refused as too frequent are mentioned."""
        admins = self._ip_change_admins()
        if not admins:
            return admins
        values = {
            "old": old or _("none recorded"),
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
            if refused:
                text += " " + _(
                    "Since the previous change, %(refused)s notification(s) "
                    "were refused as too frequent."
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
    def _ip_change_webhook_secret(self):
        """The key that signs the webhooks' bodies, made when missing: at
        install and at each upgrade (data file), and at the first webhook
        of a database that lost it (a neutralized copy).

        Made by one statement, ``INSERT ... ON CONFLICT``: of two jobs
        making it at once, the second fails with a serialization error
        (REPEATABLE READ), and queue_job runs it again, with the key the
        first one committed.
        """
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "INSERT INTO ir_config_parameter "
                "(key, value, create_uid, create_date, write_uid, write_date) "
                "VALUES (%s, %s, %s, now() at time zone 'UTC', "
                "%s, now() at time zone 'UTC') "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
                "write_date = EXCLUDED.write_date "
                "WHERE ir_config_parameter.value = ''",
                WEBHOOK_SECRET_PARAM,
                secrets.token_hex(32),
                self.env.uid,
                self.env.uid,
            ),
            log_exceptions=False,
        )
        # read in this snapshot: get_param's cache may hold its absence
        return self._read_params(WEBHOOK_SECRET_PARAM)[WEBHOOK_SECRET_PARAM]

    @api.model
    def _send_ip_change_webhook(self, ref, payload):
        """Job: POST ``payload`` as JSON, signed, to the webhook URL whose
        digest is ``ref`` (:meth:`_ip_change_webhook_ref`).

        The URL is looked up in the settings when the job runs: if no URL
        there matches ``ref`` any more (removed or changed since the change
        was recorded), nothing is sent. A production payload is sent from
        production only (see :meth:`_react_to_ip_change`), a simulation's
        only while *Call Webhooks on Staging and Development* is on.
        Timeouts, network errors and 5xx answers are retried
        (``RetryableJobError``, delays from the job function's retry
        pattern); any other answer but 2xx fails the job. Messages name the
        URL's host only. Redirects are not followed: they would turn the
        POST into a GET.
        """
        config = self.env["ir.config_parameter"].sudo()
        try:
            urls = parse_webhook_urls(config.get_param(WEBHOOK_URLS_PARAM))
        except ValueError:
            urls = []  # the reaction job reports it (_ip_change_webhook_urls)
        url = next(
            (url for url in urls if self._ip_change_webhook_ref(url) == ref), None
        )
        if not url:
            return _(
                "Not sent: no webhook URL of the settings matches this job any "
                "more (removed or changed since the change was recorded)"
            )
        if payload["simulation"]:
            if not config.get_param(WEBHOOK_ON_SIMULATION_PARAM):
                return _(
                    "Not sent: webhooks are off for simulations (Call "
                    "Webhooks on Staging and Development)"
                )
        elif is_simulation(current_stage()):
            return _(
                "Not sent: a change recorded on production, and this server's "
                "stage is %s"
            ) % (current_stage() or _("not set"))
        host = webhook.url_host(url)
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            webhook.SIGNATURE_HEADER: webhook.signature(
                self._ip_change_webhook_secret(), body
            ),
        }
        try:
            status = webhook.post(url, body, headers, WEBHOOK_DEADLINE)
        except TimeoutError:
            raise RetryableJobError(
                _("Webhook %(host)s: no answer within %(seconds)s seconds")
                % {"host": host, "seconds": WEBHOOK_DEADLINE}
            ) from None
        except webhook.AnswerTooLarge:
            raise UserError(
                _("Webhook %(host)s answered more than %(size)s bytes of headers")
                % {"host": host, "size": webhook.MAX_ANSWER_BYTES}
            ) from None
        except (OSError, http.client.HTTPException) as error:
            # the exception's own text may quote the request: not kept
            reason = (
                getattr(error, "verify_message", None)
                or getattr(error, "strerror", None)
                or type(error).__name__
            )
            raise RetryableJobError(
                _("Webhook %(host)s unreachable: %(reason)s")
                % {"host": host, "reason": reason}
            ) from None
        message = _("Webhook %(host)s answered HTTP %(status)s") % {
            "host": host,
            "status": status,
        }
        if status >= 500:
            raise RetryableJobError(message)
        if not 200 <= status < 300:
            raise UserError(message)
        return message
