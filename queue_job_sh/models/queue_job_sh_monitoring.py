# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What ``/queue_job_sh/health`` and ``/queue_job_sh/metrics`` answer, and
the token that opens them (controllers/monitoring.py).

Both read what the Runners screen reads, so that the three always agree:
health is the screen's warnings (``_health_warnings``); the metrics are its
channel figures (``queue.job.sh.channel.stat``), its summary (``_summary``)
and its warnings, plus one query for the figures the screen does not show
(the last minute, failures and retries, the latency of the last 15
minutes). Every figure comes from the database, so any process of any
server answers the same.
"""

import secrets
from datetime import timedelta

import psycopg2

from odoo import api, fields, models
from odoo.tools import SQL, mute_logger

from .. import prometheus_text
from .queue_job_sh_dashboard import _LATENCY

TOKEN_PARAM = "queue_job_sh.monitoring_token"
# The warnings that make /queue_job_sh/health answer 503: every one but the
# informative ("info": where the channels are configured).
FAILING_LEVELS = ("danger", "warning")
# The channel figures read from the view queue.job.sh.channel.stat.
CHANNEL_FIGURES = [
    "name",
    "channel_id",  # the channel's own settings (paused, capacity)
    "running",
    "ready",
    "waiting",
    "waiting_dependencies",
    "failed",
    "oldest_ready_seconds",
]
# The window of the start latency percentiles.
LATENCY_WINDOW = timedelta(minutes=15)


def failing(warnings):
    """The warnings that make jobs not flow (FAILING_LEVELS)."""
    return [warning for warning in warnings if warning["level"] in FAILING_LEVELS]


class QueueJobShMonitoring(models.AbstractModel):
    _name = "queue.job.sh.monitoring"
    _description = "Job Queue Monitoring"

    # ------------------------------------------------------------------
    # The token
    # ------------------------------------------------------------------
    @api.model
    def _monitoring_token(self):
        """The monitoring token, generated when missing: at install, and
        when Settings show it in a database installed before or in a copy
        whose neutralization deleted it. False in the rare transaction that
        generates it at the same moment as another one (its key is unique):
        that one's token is shown next time."""
        params = self.env["ir.config_parameter"].sudo()
        token = params.get_param(TOKEN_PARAM)
        if token:
            return token
        token = secrets.token_urlsafe(32)
        try:
            with self.env.cr.savepoint(), mute_logger("odoo.sql_db"):
                params.set_param(TOKEN_PARAM, token)
        except psycopg2.IntegrityError:
            # committed meanwhile by another transaction, which this one's
            # snapshot (REPEATABLE READ) cannot see
            return False
        return token

    @api.model
    def _regenerate_monitoring_token(self):
        """A new token: the previous one opens nothing any more."""
        token = secrets.token_urlsafe(32)
        self.env["ir.config_parameter"].sudo().set_param(TOKEN_PARAM, token)
        return token

    # ------------------------------------------------------------------
    # Health and metrics
    # ------------------------------------------------------------------
    @api.model
    def _health(self):
        """``(healthy, body)``: unhealthy when the Runners screen shows a
        warning of a FAILING_LEVELS level; the body names them."""
        self.env.flush_all()
        problems = failing(self.env["queue.job.sh.dashboard"]._health_warnings())
        body = {"status": "failing" if problems else "ok", "db": self.env.cr.dbname}
        if problems:
            body["problems"] = problems
        return not problems, body

    @api.model
    def _recent_figures(self):
        """The figures of the last minute and hour that the Runners screen
        does not show: the database's now, jobs done in the last minute,
        jobs failed and retried (as counted by the runner passes that ended
        then) in the last minute and hour, and the start latency p50/p95 of
        the jobs started in the last LATENCY_WINDOW."""
        self.env.cr.execute(
            SQL(
                """
                WITH now AS (SELECT now() AT TIME ZONE 'UTC' AS now)
                SELECT now,
                       (SELECT count(*) FROM queue_job
                         WHERE date_done >= now - interval '1 minute'),
                       passes.failed_minute, passes.failed_hour,
                       passes.retried_minute, passes.retried_hour,
                       latency.latency[1], latency.latency[2]
                  FROM now,
                       (SELECT COALESCE(sum(failed_count) FILTER (WHERE
                                   ended_at >= now - interval '1 minute'), 0)
                                   AS failed_minute,
                               COALESCE(sum(failed_count), 0) AS failed_hour,
                               COALESCE(sum(retried_count) FILTER (WHERE
                                   ended_at >= now - interval '1 minute'), 0)
                                   AS retried_minute,
                               COALESCE(sum(retried_count), 0) AS retried_hour
                          FROM queue_job_sh_pass, now
                         WHERE ended_at >= now - interval '1 hour') passes,
                       (SELECT percentile_cont(ARRAY[0.5, 0.95])
                                   WITHIN GROUP (ORDER BY %(latency)s) AS latency
                          FROM queue_job, now
                         WHERE date_started >= now - %(window)s) latency
                """,
                latency=_LATENCY,
                window=LATENCY_WINDOW,
            )
        )
        return self.env.cr.fetchone()

    @api.model
    def _metrics(self):
        """The text of a Prometheus scrape (docs/monitoring.md lists the
        metrics). Every sample has the label ``db``; per channel, ``channel``
        too."""
        self.env.flush_all()
        dashboard = self.env["queue.job.sh.dashboard"]
        summary = dashboard._summary()
        warnings = dashboard._health_warnings()
        # one query for the rows and their figures (the view is one
        # aggregate over the unfinished jobs)
        stats = self.env["queue.job.sh.channel.stat"].search_fetch([], CHANNEL_FIGURES)
        (
            now,
            done_minute,
            failed_minute,
            failed_hour,
            retried_minute,
            retried_hour,
            latency_p50,
            latency_p95,
        ) = self._recent_figures()
        db = {"db": self.env.cr.dbname}

        def per_channel(field):
            return [(dict(db, channel=stat.name), stat[field]) for stat in stats]

        def one(value):
            return [(db, value)]

        last_pass_age = None
        if summary["last_pass_at"]:
            last_pass = fields.Datetime.to_datetime(summary["last_pass_at"])
            last_pass_age = (now - last_pass).total_seconds()
        warning_counts = {}
        for warning in warnings:
            key = (warning["code"], warning["level"])
            warning_counts[key] = warning_counts.get(key, 0) + 1
        return prometheus_text.exposition(
            [
                (
                    "queue_job_channel_capacity",
                    "Jobs of the channel that may run at once: the smallest "
                    "capacity of the channel and its parents (0: invalid "
                    "channel configuration).",
                    per_channel("capacity"),
                ),
                (
                    "queue_job_channel_paused",
                    "1 if the channel or one of its parents is paused.",
                    per_channel("paused"),
                ),
                (
                    "queue_job_channel_running",
                    "Jobs of the channel enqueued or started.",
                    per_channel("running"),
                ),
                (
                    "queue_job_channel_ready",
                    "Pending jobs of the channel that may start now.",
                    per_channel("ready"),
                ),
                (
                    "queue_job_channel_waiting_eta",
                    "Pending jobs of the channel waiting for their ETA.",
                    per_channel("waiting"),
                ),
                (
                    "queue_job_channel_waiting_dependencies",
                    "Jobs of the channel waiting for the jobs they depend on.",
                    per_channel("waiting_dependencies"),
                ),
                (
                    "queue_job_channel_failed",
                    "Failed jobs of the channel (until requeued or deleted).",
                    per_channel("failed"),
                ),
                (
                    "queue_job_channel_oldest_ready_age_seconds",
                    "How long the oldest ready job of the channel has been "
                    "waiting to start (0: none ready).",
                    per_channel("oldest_ready_seconds"),
                ),
                (
                    "queue_job_done_last_minute",
                    "Jobs done in the last minute.",
                    one(done_minute),
                ),
                (
                    "queue_job_done_last_hour",
                    "Jobs done in the last hour.",
                    one(summary["done_last_hour"]),
                ),
                (
                    "queue_job_failed_last_minute",
                    "Jobs failed in the last minute, counted by the runner "
                    "passes that ended then.",
                    one(failed_minute),
                ),
                (
                    "queue_job_failed_last_hour",
                    "Jobs failed in the last hour, counted by the runner "
                    "passes that ended then.",
                    one(failed_hour),
                ),
                (
                    "queue_job_retried_last_minute",
                    "Jobs postponed for a retry in the last minute, counted "
                    "by the runner passes that ended then.",
                    one(retried_minute),
                ),
                (
                    "queue_job_retried_last_hour",
                    "Jobs postponed for a retry in the last hour, counted by "
                    "the runner passes that ended then.",
                    one(retried_hour),
                ),
                (
                    "queue_job_start_latency_p50_seconds",
                    "Median start latency (from creation or ETA to start) of "
                    "the jobs started in the last 15 minutes (NaN: none).",
                    one(latency_p50),
                ),
                (
                    "queue_job_start_latency_p95_seconds",
                    "95th percentile of the start latency of the jobs "
                    "started in the last 15 minutes (NaN: none).",
                    one(latency_p95),
                ),
                (
                    "queue_job_sh_runner_crons",
                    "Runner crons (one per unit of root capacity).",
                    one(summary["runners"]),
                ),
                (
                    "queue_job_sh_runner_crons_active",
                    "Runner crons active (Odoo deactivates failing crons).",
                    one(summary["runners_active"]),
                ),
                (
                    "queue_job_sh_runner_crons_running",
                    "Runner passes running now.",
                    one(summary["running_passes"]),
                ),
                (
                    "queue_job_sh_last_pass_age_seconds",
                    "Seconds since the last runner pass started (NaN: none "
                    "in the last 7 days).",
                    one(last_pass_age),
                ),
                (
                    "queue_job_sh_health_warnings",
                    "Warnings of the Runners screen, per code and level (see "
                    "/queue_job_sh/health).",
                    [
                        (dict(db, code=code, level=level), count)
                        for (code, level), count in warning_counts.items()
                    ],
                ),
                (
                    "queue_job_sh_up",
                    "1 if jobs flow (/queue_job_sh/health answers 200), else 0.",
                    one(not failing(warnings)),
                ),
            ]
        )
