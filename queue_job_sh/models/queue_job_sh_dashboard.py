# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The Runners screen: are jobs being run, how fast, and if not, why.

Two SQL views give the figures to ordinary list and graph views (one
aggregate query each, run whenever a view reads them):

- ``queue.job.sh.channel.stat``: one row per channel that has jobs or a
  ``queue.job.channel`` record: running, ready, waiting for their ETA,
  failed, waiting for their dependencies, and since when the oldest ready
  job waits;
- ``queue.job.sh.minute.stat``: the last 60 minutes, per minute: jobs done,
  and the p50/p95 of their start latency.

``queue.job.sh.dashboard`` adds the hour's summary, the health warnings and
the "run a pass now" action for the client action that lays them out.
"""

from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, drop_view_if_exists, format_datetime

from .. import channels, context, odoo_series, queue_state, wake
from .queue_job_sh_runner import http_runner_active, http_runner_warning

MANAGER_GROUP = "queue_job.group_queue_job_manager"
# Ready jobs and no pass started for this long: the runners are not running.
# Runner crons run every minute, Odoo.sh starts its cron worker about every
# 5 minutes.
STALE_PASS_DELAY = timedelta(minutes=15)
# A job ``started`` for longer than this is reported as stuck, unless the
# cron kill limit is longer.
STUCK_STARTED_DELAY = timedelta(hours=1)
# A ready job that waits longer than this (a paused channel forgotten, a
# failed job blocking a sequential channel, too little capacity).
READY_WAITING_DELAY = timedelta(minutes=30)
# The thresholds of the health warnings, in whole minutes, each with its
# system parameter (set in Settings) and its default: the Runners screen and
# /queue_job_sh/health read the same ones.
HEALTH_THRESHOLDS = {
    "no_pass": ("queue_job_sh.health.no_pass_minutes", STALE_PASS_DELAY),
    "started": ("queue_job_sh.health.started_minutes", STUCK_STARTED_DELAY),
    "ready": ("queue_job_sh.health.ready_minutes", READY_WAITING_DELAY),
}

# The start latency of a job: from the moment it could start (its creation,
# or its ETA when later) to its start. GREATEST ignores a NULL eta.
_LATENCY = SQL("EXTRACT(EPOCH FROM date_started - GREATEST(date_created, eta))")


def human_age(seconds):
    """``75`` -> ``"75 s"``, ``7260`` -> ``"121 min"``: short, for a list."""
    if seconds is None or seconds is False:
        return ""
    for unit, size, above in (("d", 86400, 2), ("h", 3600, 2), ("min", 60, 2)):
        if seconds >= size * above:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


class QueueJobShChannelStat(models.Model):
    _name = "queue.job.sh.channel.stat"
    _description = "Job Queue Runners: Channel Figures"
    _auto = False
    _order = "name"
    _rec_name = "name"

    name = fields.Char(string="Channel", readonly=True)
    channel_id = fields.Many2one(
        "queue.job.channel", string="Channel Settings", readonly=True
    )
    running = fields.Integer(readonly=True, help="Jobs enqueued or started")
    ready = fields.Integer(readonly=True, help="Pending jobs that may start now")
    waiting = fields.Integer(
        readonly=True, help="Pending jobs waiting for their ETA to start"
    )
    failed = fields.Integer(readonly=True)
    waiting_dependencies = fields.Integer(
        string="Waiting for dependencies",
        readonly=True,
        help="Jobs of a chain or group that wait for the jobs they depend on",
    )
    oldest_ready_seconds = fields.Integer(
        string="Oldest ready (s)",
        readonly=True,
        help="How long the oldest ready job has been waiting to start",
    )
    oldest_ready_age = fields.Char(
        string="Oldest ready", compute="_compute_oldest_ready_age"
    )
    capacity = fields.Integer(
        compute="_compute_config",
        help="Jobs of this channel that may run at once: the smallest capacity "
        "of the channel and its parents",
    )
    paused = fields.Boolean(
        compute="_compute_config", help="The channel or one of its parents is paused"
    )
    channel_paused = fields.Boolean(
        string="Paused Itself",
        compute="_compute_config",
        help="The channel's own settings pause it",
    )
    editable = fields.Boolean(
        compute="_compute_config",
        help="Channel settings are stored in the database (not set by the "
        "server's channels option)",
    )

    def init(self):
        drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
CREATE VIEW %(view)s AS
WITH now AS (SELECT now() AT TIME ZONE 'UTC' AS now),
pending AS (
    SELECT channel,
           count(*) FILTER (WHERE eta IS NULL OR eta <= now) AS ready,
           count(*) FILTER (WHERE eta > now) AS waiting,
           min(COALESCE(eta, date_created))
               FILTER (WHERE eta IS NULL OR eta <= now) AS ready_since
      FROM queue_job, now
     WHERE state = 'pending'
     GROUP BY channel
),
other AS (
    SELECT channel,
           count(*) FILTER (WHERE state IN ('enqueued', 'started')) AS running,
           count(*) FILTER (WHERE state = 'failed') AS failed,
           count(*) FILTER (WHERE state = 'wait_dependencies')
               AS waiting_dependencies
      FROM queue_job
     WHERE state IN ('enqueued', 'started', 'failed', 'wait_dependencies')
     GROUP BY channel
),
by_channel AS (
    SELECT %(complete_name)s AS name,
           sum(running) AS running, sum(ready) AS ready,
           sum(waiting) AS waiting, sum(failed) AS failed,
           sum(waiting_dependencies) AS waiting_dependencies,
           min(ready_since) AS ready_since
      FROM (SELECT channel, 0 AS running, ready, waiting, 0 AS failed,
                   0 AS waiting_dependencies, ready_since
              FROM pending
            UNION ALL
            SELECT channel, running, 0, 0, failed, waiting_dependencies, NULL
              FROM other) jobs
     GROUP BY 1
)
SELECT (hashtext(COALESCE(job.name, channel.complete_name)) & 1073741823) + 1
           AS id,
       COALESCE(job.name, channel.complete_name) AS name,
       channel.id AS channel_id,
       COALESCE(job.running, 0)::integer AS running,
       COALESCE(job.ready, 0)::integer AS ready,
       COALESCE(job.waiting, 0)::integer AS waiting,
       COALESCE(job.failed, 0)::integer AS failed,
       COALESCE(job.waiting_dependencies, 0)::integer AS waiting_dependencies,
       EXTRACT(EPOCH FROM (SELECT now FROM now) - job.ready_since)::integer
           AS oldest_ready_seconds
  FROM by_channel job
  FULL JOIN queue_job_channel channel ON channel.complete_name = job.name
                """,
                view=SQL.identifier(self._table),
                complete_name=SQL(channels.COMPLETE_NAME_SQL.format(column="channel")),
            )
        )

    @api.depends("oldest_ready_seconds")
    def _compute_oldest_ready_age(self):
        for stat in self:
            stat.oldest_ready_age = (
                human_age(stat.oldest_ready_seconds) if stat.ready else ""
            )

    def _compute_config(self):
        editable = self.env["queue.job.sh.runner"]._channels_from_records()
        try:
            configured = self.env["queue.job.sh.runner"]._channels()
        except ValueError:
            configured = None
        for stat in self:
            stat.editable = editable
            # read only when the records hold the settings (queue_job 18.0)
            stat.channel_paused = editable and stat.channel_id.paused
            if configured is None:
                stat.capacity, stat.paused = 0, False
                continue
            stat.paused = configured.paused(stat.name)
            stat.capacity = configured.capacity(stat.name)

    # ------------------------------------------------------------------
    # Actions (queue.job.channel's access rights apply: managers only)
    # ------------------------------------------------------------------
    def _channel_record(self):
        """The ``queue.job.channel`` record of this channel, created (with
        its parents) when missing, with the settings it has now."""
        self.ensure_one()
        self.check_access("read")  # managers only, whatever holds the settings
        if not self.env["queue.job.sh.runner"]._channels_from_records():
            raise UserError(self.env["queue.job.sh.dashboard"]._channels_source())
        if self.channel_id:
            return self.channel_id
        Channel = self.env["queue.job.channel"]
        config = self.env["queue.job.sh.runner"]._channels().chain(self.name)[-1]
        parent = Channel.search([("complete_name", "=", "root")])
        parts = self.name.split(".")
        for depth in range(2, len(parts) + 1):
            name = ".".join(parts[:depth])
            channel = Channel.search([("complete_name", "=", name)])
            if not channel:
                values = {"name": parts[depth - 1], "parent_id": parent.id}
                if depth == len(parts):
                    # keep what the channel inherited until now
                    values.update(
                        capacity=config.capacity or 0, sequential=config.sequential
                    )
                channel = Channel.create(values)
            parent = channel
        return parent

    def action_pause(self):
        for stat in self:
            stat._channel_record().action_pause()

    def action_resume(self):
        for stat in self:
            stat._channel_record().action_resume()

    def action_open_channel(self):
        channel = self._channel_record()
        return {
            "type": "ir.actions.act_window",
            "name": channel.complete_name,
            "res_model": "queue.job.channel",
            "res_id": channel.id,
            "views": [(False, "form")],
            "target": "new",
        }

    def action_open_jobs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "queue_job.action_queue_job"
        )
        action.update(
            name=self.name,
            domain=[("channel", "in", channels.stored_names(self.name))],
            context={"search_default_pending": 1},
        )
        return action


class QueueJobShMinuteStat(models.Model):
    _name = "queue.job.sh.minute.stat"
    _description = "Job Queue Runners: Figures per Minute"
    _auto = False
    _order = "minute, metric"

    minute = fields.Integer(
        string="Minute (0 = now)",
        readonly=True,
        help="Minutes before the current one",
    )
    metric = fields.Selection(
        [
            ("done", "Jobs done"),
            ("p50", "Start latency p50 (s)"),
            ("p95", "Start latency p95 (s)"),
        ],
        readonly=True,
    )
    # per minute, a single row per metric: avg is its value when grouped by
    # minute, and the mean per minute over longer groups
    value = fields.Float(readonly=True, aggregator="avg", digits=(16, 1))

    def init(self):
        # reads the last hour's jobs by range, with the indexes of schema.py
        drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
CREATE VIEW %(view)s AS
WITH minutes AS (
    SELECT date_trunc('minute', now() AT TIME ZONE 'UTC')
           - make_interval(mins => offs) AS minute,
           -offs AS offs
      FROM generate_series(0, 59) AS offs
),
done AS (
    SELECT date_trunc('minute', date_done) AS minute, count(*) AS jobs
      FROM queue_job
     WHERE date_done >= %(since)s
     GROUP BY 1
),
started AS (
    SELECT date_trunc('minute', date_started) AS minute,
           percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY %(latency)s)
               AS latency
      FROM queue_job
     WHERE date_started >= %(since)s
     GROUP BY 1
)
SELECT (minutes.offs + 60) * 3 + 1 AS id, minutes.offs AS minute,
       'done'::varchar AS metric, COALESCE(done.jobs, 0)::float AS value
  FROM minutes LEFT JOIN done USING (minute)
UNION ALL
SELECT (minutes.offs + 60) * 3 + 2, minutes.offs, 'p50', started.latency[1]
  FROM minutes JOIN started USING (minute)
UNION ALL
SELECT (minutes.offs + 60) * 3 + 3, minutes.offs, 'p95', started.latency[2]
  FROM minutes JOIN started USING (minute)
                """,
                view=SQL.identifier(self._table),
                since=SQL(
                    "date_trunc('minute', now() AT TIME ZONE 'UTC')"
                    " - interval '59 minutes'"
                ),
                latency=_LATENCY,
            )
        )


class QueueJobShDashboard(models.AbstractModel):
    _name = "queue.job.sh.dashboard"
    _description = "Job Queue Runners Dashboard"

    def _check_manager(self):
        if not (self.env.su or self.env.user.has_group(MANAGER_GROUP)):
            raise AccessError(_("Only Job Queue managers can see and run the runners."))

    @api.model
    def get_dashboard_data(self):
        """The hour's summary and the health warnings, for the Runners screen."""
        self._check_manager()
        self.env.flush_all()
        return {
            "summary": self._summary(),
            "warnings": self._health_warnings(),
        }

    @api.model
    def _summary(self):
        # times are the database's (the transaction's start), like the views'
        self.env.cr.execute(
            SQL(
                """
                WITH now AS (SELECT now() AT TIME ZONE 'UTC' AS now)
                SELECT (SELECT count(*) FROM queue_job, now
                         WHERE date_done >= now - interval '1 hour'),
                       latency[1], latency[2], started,
                       (SELECT max(started_at) FROM queue_job_sh_pass)
                  FROM (SELECT percentile_cont(ARRAY[0.5, 0.95])
                                   WITHIN GROUP (ORDER BY %(latency)s) AS latency,
                               count(*) AS started
                          FROM queue_job, now
                         WHERE date_started >= now - interval '1 hour') hour
                """,
                latency=_LATENCY,
            )
        )
        done, p50, p95, started, last_pass = self.env.cr.fetchone()
        crons = self.env["queue.job.sh.runner"]._runner_crons()
        return {
            "done_last_hour": done,
            "done_per_minute": round(done / 60, 1),
            "started_last_hour": started,
            "latency_p50": p50,
            "latency_p95": p95,
            "last_pass_at": last_pass and fields.Datetime.to_string(last_pass),
            "running_passes": self.env["queue.job.sh.pass"]._running_count(),
            "runners_active": len(crons.filtered("active")),
            "runners": len(crons),
        }

    @api.model
    def _health_thresholds(self, warn):
        """The thresholds of the health warnings (``HEALTH_THRESHOLDS``), as
        timedeltas; a system parameter that is not a whole number of minutes
        (1 or more) is reported with ``warn`` and its default applies."""
        get_param = self.env["ir.config_parameter"].sudo().get_param
        thresholds = {}
        for key, (param, default) in HEALTH_THRESHOLDS.items():
            thresholds[key] = default
            value = get_param(param)
            if value is None or value is False:
                continue
            try:
                minutes = int(value)
            except ValueError:
                minutes = 0
            if minutes < 1:
                warn(
                    "invalid_health_setting",
                    "warning",
                    _(
                        "System parameter %(param)s is not a whole number of "
                        "minutes (1 or more): %(value)r; %(default)s minutes "
                        "apply. Set it in Settings > Job Queue.",
                        param=param,
                        value=value,
                        default=int(default.total_seconds() // 60),
                    ),
                )
                continue
            thresholds[key] = timedelta(minutes=minutes)
        return thresholds

    @api.model
    def _health_warnings(self):
        """What keeps jobs from running, as ``[{"code", "level",
        "message"}]``. ``code`` is stable, for machines (see
        docs/monitoring.md); level: ``danger``, ``warning`` or ``info``."""
        warnings = []

        def warn(code, level, message):
            warnings.append({"code": code, "level": level, "message": message})

        thresholds = self._health_thresholds(warn)
        cr = self.env.cr
        crons = self.env["queue.job.sh.runner"]._runner_crons()
        inactive = crons.filtered(lambda cron: not cron.active)
        if not crons:
            warn(
                "no_runner_cron",
                "danger",
                _("There is no runner cron: upgrade queue_job_sh."),
            )
        elif inactive:
            warn(
                "runner_crons_inactive",
                "danger",
                _(
                    "Runner crons inactive: %(names)s. Odoo deactivates a cron "
                    "that keeps failing (see the server log); reactivate them "
                    "in Settings > Technical > Scheduled Actions.",
                    names=", ".join(inactive.mapped("name")),
                ),
            )
        for cron in (crons - inactive).filtered("failure_count"):
            warn(
                "runner_cron_failing",
                "warning",
                _(
                    "Runner cron %(name)s failed %(count)s times in a row since "
                    "%(since)s: Odoo deactivates it after 5 failures over 7 days.",
                    name=cron.name,
                    count=cron.failure_count,
                    since=format_datetime(self.env, cron.first_failure_date),
                ),
            )
        if http_runner_active(cr):
            warn("http_jobrunner_active", "danger", http_runner_warning(self.env))
        if not self.env["queue.job.sh.pass"]._started_since(
            thresholds["no_pass"]
        ) and queue_state.ready_exists(cr):
            warn(
                "no_recent_pass",
                "danger",
                _(
                    "Jobs are ready but no runner pass started in the last "
                    "%(minutes)s minutes: are cron workers running "
                    "(max_cron_threads > 0)?",
                    minutes=int(thresholds["no_pass"].total_seconds() // 60),
                ),
            )
        stuck_after = max(
            thresholds["started"], timedelta(seconds=context.kill_limit() or 0)
        )
        cr.execute(
            "SELECT count(*), min(date_started) FROM queue_job WHERE state = "
            "'started' AND date_started < (now() AT TIME ZONE 'UTC') - %s",
            (stuck_after,),
        )
        stuck, since = cr.fetchone()
        if stuck:
            warn(
                "jobs_stuck_started",
                "warning",
                _(
                    "Jobs stuck 'started' for more than %(delay)s: %(count)s "
                    "(the oldest since %(since)s). Check them in Jobs.",
                    count=stuck,
                    delay=human_age(stuck_after.total_seconds()),
                    since=format_datetime(self.env, since),
                ),
            )
        # A job ready for longer than the threshold (ready since its ETA,
        # or its creation): looked for among the pending jobs alone, then,
        # if there is one, named per channel with the channel figures.
        # Ordered by channel, the first column of queue_job_sh_pending_index,
        # so that PostgreSQL scans that index and tests the ready time in its
        # entries, without reading the jobs (3 ms for 40 000 pending jobs,
        # 24 ms through queue_job's index on state).
        ready_after = thresholds["ready"].total_seconds()
        cr.execute(
            "SELECT 1 FROM queue_job WHERE state = 'pending' AND "
            "COALESCE(eta, date_created) < (now() AT TIME ZONE 'UTC') - %s "
            "ORDER BY channel LIMIT 1",
            (thresholds["ready"],),
        )
        waiting = cr.fetchone() and self.env["queue.job.sh.channel.stat"].search_fetch(
            [("ready", ">", 0), ("oldest_ready_seconds", ">", ready_after)],
            ["name", "channel_id", "oldest_ready_seconds"],
        )
        if waiting:
            channels = []
            for stat in waiting:
                age = human_age(stat.oldest_ready_seconds)
                channels.append(
                    _(
                        "%(channel)s (oldest: %(age)s, paused)",
                        channel=stat.name,
                        age=age,
                    )
                    if stat.paused
                    else _("%(channel)s (oldest: %(age)s)", channel=stat.name, age=age)
                )
            warn(
                "ready_jobs_waiting",
                "warning",
                _(
                    "Jobs ready for more than %(delay)s and not started, in "
                    "%(channels)s: a channel paused, a failed job blocking a "
                    "sequential channel, too little capacity, or no runner "
                    "running?",
                    delay=human_age(ready_after),
                    channels=", ".join(channels),
                ),
            )
        try:
            self.env["queue.job.sh.runner"]._channels()
        except ValueError as error:
            warn(
                "invalid_channel_configuration",
                "danger",
                _("Invalid channel configuration: %s", error),
            )
        if not self.env["queue.job.sh.runner"]._channels_from_records():
            warn("channels_from_server_option", "info", self._channels_source())
        return warnings

    @api.model
    def _channels_source(self):
        """Where the channel settings come from when this screen cannot
        change them."""
        if odoo_series.channel_setting_fields(self.env):
            return _(
                "The channels are configured by the server's channels option "
                "(ODOO_QUEUE_JOB_CHANNELS or [queue_job] channels): change "
                "them there."
            )
        return _(
            "This version of queue_job takes the channels from the server's "
            "channels option only (ODOO_QUEUE_JOB_CHANNELS or [queue_job] "
            "channels; root:1 when it is not set): change them there."
        )

    @api.model
    def action_run_pass(self):
        """Trigger an idle runner cron now."""
        self._check_manager()
        if not self.env["queue.job.sh.runner"]._runner_crons().filtered("active"):
            raise UserError(_("No runner cron is active."))
        wake.wake_one(self.env)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "info",
                "message": _(
                    "A runner cron was triggered: the next free cron worker "
                    "runs a pass."
                ),
            },
        }
