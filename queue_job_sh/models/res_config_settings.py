# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError

from .queue_job_sh_dashboard import HEALTH_THRESHOLDS
from .queue_job_sh_ip_change import (
    PRODUCTION_PARAMS,
    SIMULATION_PARAMS,
    WEBHOOK_ON_SIMULATION_PARAM,
    WEBHOOK_SECRET_PARAM,
    WEBHOOK_URLS_PARAM,
    parse_webhook_urls,
)


def _minutes(key):
    return int(HEALTH_THRESHOLDS[key][1].total_seconds() // 60)


HEALTH_MINUTES_FIELDS = (
    "queue_job_sh_health_no_pass_minutes",
    "queue_job_sh_health_started_minutes",
    "queue_job_sh_health_ready_minutes",
)


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    # Char: settings store no Text field in parameters; shown as a text area
    queue_job_sh_ip_change_webhook_urls = fields.Char(
        string="IP Change Webhooks",
        config_parameter=WEBHOOK_URLS_PARAM,
        help="URLs called (POST, signed JSON body with db, stage, simulation, "
        "old, new, at) when Odoo.sh reports a new IP address for the "
        "production instance. One per line.",
    )
    # computed, not stored: the key is never copied into the settings' rows
    queue_job_sh_ip_change_webhook_secret = fields.Char(
        string="Webhook Signing Key",
        compute="_compute_queue_job_sh_ip_change_webhook_secret",
        groups="base.group_system",
        help="Each webhook's body is signed with this key: the header "
        "X-Queue-Job-Sh-Signature holds sha256= and the hex HMAC-SHA256 of "
        "the body. Give it to the receivers, so that they can check it.",
    )
    queue_job_sh_ip_change_webhook_on_simulation = fields.Boolean(
        string="Call Webhooks on Staging and Development",
        config_parameter=WEBHOOK_ON_SIMULATION_PARAM,
        help="Also call the webhooks for the simulated changes recorded on "
        "staging and development instances.",
    )
    # Read-only: what was recorded (see get_values)
    queue_job_sh_ip_current = fields.Char(string="Current IP Address", readonly=True)
    queue_job_sh_ip_previous = fields.Char(string="Previous IP Address", readonly=True)
    queue_job_sh_ip_changed_at = fields.Datetime(string="Changed On", readonly=True)
    queue_job_sh_ip_simulation_current = fields.Char(
        string="Simulated IP Address", readonly=True
    )
    queue_job_sh_ip_simulation_previous = fields.Char(
        string="Previous Simulated IP Address", readonly=True
    )
    queue_job_sh_ip_simulation_changed_at = fields.Datetime(
        string="Simulated On", readonly=True
    )
    # Monitoring: the thresholds of the health warnings (Runners screen and
    # /queue_job_sh/health) and the token of the monitoring endpoints
    queue_job_sh_health_no_pass_minutes = fields.Integer(
        string="No Runner Pass For (minutes)",
        config_parameter=HEALTH_THRESHOLDS["no_pass"][0],
        default=_minutes("no_pass"),
        help="Jobs ready and no runner pass started for this long: the "
        "runners are reported as not running.",
    )
    queue_job_sh_health_started_minutes = fields.Integer(
        string="Job Started For (minutes)",
        config_parameter=HEALTH_THRESHOLDS["started"][0],
        default=_minutes("started"),
        help="A job 'started' for longer (or for longer than the cron time "
        "limit, when that is longer) is reported as stuck.",
    )
    queue_job_sh_health_ready_minutes = fields.Integer(
        string="Job Ready For (minutes)",
        config_parameter=HEALTH_THRESHOLDS["ready"][0],
        default=_minutes("ready"),
        help="A job ready to start and not started for this long is reported: "
        "a paused channel, a failed job blocking a sequential channel, too "
        "little capacity.",
    )
    queue_job_sh_monitoring_token = fields.Char(
        string="Monitoring Token",
        readonly=True,
        groups="base.group_system",
        help="Opens /queue_job_sh/health and /queue_job_sh/metrics, sent as "
        "'Authorization: Bearer <token>' (or ?token=<token>).",
    )

    @api.model
    def get_values(self):
        res = super().get_values()
        get_param = self.env["ir.config_parameter"].sudo().get_param
        for prefix, params in (
            ("queue_job_sh_ip_", PRODUCTION_PARAMS),
            ("queue_job_sh_ip_simulation_", SIMULATION_PARAMS),
        ):
            res[prefix + "current"] = get_param(params.current) or False
            res[prefix + "previous"] = get_param(params.previous) or False
            res[prefix + "changed_at"] = get_param(params.date) or False
        # the form's first values (a field without dependencies is not
        # computed for a new record)
        if self.env.user.has_group("base.group_system"):
            res["queue_job_sh_ip_change_webhook_secret"] = (
                self._queue_job_sh_ip_change_webhook_secret()
            )
            res["queue_job_sh_monitoring_token"] = self.env[
                "queue.job.sh.monitoring"
            ]._monitoring_token()
        return res

    @api.model
    def _queue_job_sh_ip_change_webhook_secret(self):
        # read in the snapshot: get_param's cache may hold its absence
        return (
            self.env["queue.job.sh.ip.change"]
            .sudo()
            ._read_params(WEBHOOK_SECRET_PARAM)
            .get(WEBHOOK_SECRET_PARAM, False)
        )

    def _compute_queue_job_sh_ip_change_webhook_secret(self):
        secret = self._queue_job_sh_ip_change_webhook_secret()
        for record in self:
            record.queue_job_sh_ip_change_webhook_secret = secret

    @api.constrains(*HEALTH_MINUTES_FIELDS)
    def _check_queue_job_sh_health_minutes(self):
        for record in self:
            for name in HEALTH_MINUTES_FIELDS:
                if record[name] < 1:
                    raise ValidationError(
                        _(
                            "%(setting)s: at least 1 minute.",
                            setting=record._fields[name].string,
                        )
                    )

    def action_queue_job_sh_regenerate_monitoring_token(self):
        """A new monitoring token (system administrators only)."""
        if not self.env.user.has_group("base.group_system"):
            raise AccessError(
                _("Only system administrators can change the monitoring token.")
            )
        self.env["queue.job.sh.monitoring"]._regenerate_monitoring_token()
        return {"type": "ir.actions.client", "tag": "reload"}

    @api.constrains("queue_job_sh_ip_change_webhook_urls")
    def _check_queue_job_sh_ip_change_webhook_urls(self):
        for record in self:
            try:
                parse_webhook_urls(record.queue_job_sh_ip_change_webhook_urls)
            except ValueError as error:
                # the value is not repeated: URLs hold secrets, and the
                # error is logged
                raise ValidationError(
                    _(
                        "IP change webhook URL number %s is not an http(s) URL",
                        error.args[0],
                    )
                ) from None

    def set_values(self):
        for record in self:
            urls = parse_webhook_urls(record.queue_job_sh_ip_change_webhook_urls)
            record.queue_job_sh_ip_change_webhook_urls = "\n".join(urls) or False
        return super().set_values()
