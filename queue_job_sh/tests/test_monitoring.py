# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Monitoring: the health warnings' codes and thresholds, the token in
Settings, and ``/queue_job_sh/health`` and ``/queue_job_sh/metrics`` over
HTTP (``HttpCase``: a request shares the test's transaction, so that its
``now()`` is the test's and its figures can be compared exactly with the
Runners screen's)."""

import math
import os
from unittest.mock import patch

from prometheus_client.parser import text_string_to_metric_families

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged

from odoo.addons.queue_job.jobrunner.runner import PG_ADVISORY_LOCK_ID

from ..models.queue_job_sh_dashboard import HEALTH_THRESHOLDS
from ..models.queue_job_sh_monitoring import TOKEN_PARAM
from .dashboard_common import DashboardDataMixin

DASHBOARD = "queue.job.sh.dashboard"
MONITORING = "queue.job.sh.monitoring"
STAT = "queue.job.sh.channel.stat"
CHANNELS = "root:6,root.qjsh_a:4,root.qjsh_paused:2:paused"


def _delete_token(env):
    """As a copy's neutralization does."""
    env["ir.config_parameter"].sudo().search([("key", "=", TOKEN_PARAM)]).unlink()


class MonitoringDataMixin(DashboardDataMixin):
    @classmethod
    def _setup_monitoring_data(cls):
        cls._setup_dashboard_data()
        # the channels option, so that both series pause the same way
        cls.startClassPatcher(
            patch.dict(os.environ, {"ODOO_QUEUE_JOB_CHANNELS": CHANNELS})
        )
        cls.crons = cls.env["queue.job.sh.runner"]._runner_crons()

    def _set_param(self, key, value):
        self.env["ir.config_parameter"].sudo().set_param(key, value)

    def _warnings(self):
        return self.env[DASHBOARD].get_dashboard_data()["warnings"]

    def _codes(self):
        return [(w["code"], w["level"]) for w in self._warnings()]

    def _passes(self, *specs):
        """Passes ``(started, ended, done, failed, retried)``, in seconds
        from now."""
        cron = self.crons[:1]
        for started, ended, done, failed, retried in specs:
            self.env["queue.job.sh.pass"].sudo().create(
                {
                    "cron_id": cron.id,
                    "pid": 4242,
                    "started_at": self._at(started),
                    "ended_at": self._at(ended),
                    "end_reason": ended is not None and "queue_empty" or False,
                    "done_count": done,
                    "failed_count": failed,
                    "retried_count": retried,
                }
            )


@tagged("post_install", "-at_install")
class TestHealthWarnings(MonitoringDataMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_monitoring_data()

    def test_codes_of_every_warning(self):
        """Each warning has a stable code next to its level and message."""
        self._pass(-60, -59, "queue_empty")
        self.assertEqual(self._codes(), [("channels_from_server_option", "info")])
        self.crons[:1].active = False
        self.crons[1:].write(
            {"failure_count": 2, "first_failure_date": fields.Datetime.now()}
        )
        self._job("started", "root.qjsh_a", created=-9000, started=-7200)
        with self.registry.cursor() as cr:
            cr.execute("SELECT pg_advisory_lock(%s)", (PG_ADVISORY_LOCK_ID,))
            try:
                codes = self._codes()
            finally:
                cr.execute("SELECT pg_advisory_unlock(%s)", (PG_ADVISORY_LOCK_ID,))
        expected = [
            ("runner_crons_inactive", "danger"),
            ("http_jobrunner_active", "danger"),
            ("jobs_stuck_started", "warning"),
            ("channels_from_server_option", "info"),
        ]
        if len(self.crons) > 1:
            expected.insert(1, ("runner_cron_failing", "warning"))
        self.assertEqual(codes, expected)
        for warning in self._warnings():
            self.assertEqual(set(warning), {"code", "level", "message"})
            self.assertTrue(warning["message"])
        with patch.dict(os.environ, {"ODOO_QUEUE_JOB_CHANNELS": "root.x:2:sequential"}):
            self.assertIn(("invalid_channel_configuration", "danger"), self._codes())
        self.crons.unlink()
        self.assertIn(("no_runner_cron", "danger"), self._codes())

    def test_no_pass_threshold_from_settings(self):
        param, default = HEALTH_THRESHOLDS["no_pass"]
        self.assertEqual(default.total_seconds(), 15 * 60)
        self._job("pending", "root.qjsh_a", created=-5)
        self._pass(-600, -590, "queue_empty")  # 10 minutes ago
        self.assertNotIn("no_recent_pass", [c for c, _level in self._codes()])
        self._set_param(param, "5")
        (warning,) = (w for w in self._warnings() if w["code"] == "no_recent_pass")
        self.assertEqual(warning["level"], "danger")
        self.assertIn(
            "no runner pass started in the last 5 minutes", warning["message"]
        )
        self._set_param(param, "11")
        self.assertNotIn("no_recent_pass", [c for c, _level in self._codes()])

    def test_stuck_started_threshold_from_settings(self):
        param = HEALTH_THRESHOLDS["started"][0]
        self._pass(-60, -59, "queue_empty")
        self._job("started", "root.qjsh_a", created=-2000, started=-1800)
        self.assertNotIn("jobs_stuck_started", [c for c, _level in self._codes()])
        self._set_param(param, "20")
        (warning,) = (w for w in self._warnings() if w["code"] == "jobs_stuck_started")
        self.assertIn("'started' for more than 20 min: 1", warning["message"])

    def test_ready_jobs_waiting(self):
        """The oldest ready job past the threshold, in any channel: a paused
        one (said so) or one whose jobs do not start."""
        param, default = HEALTH_THRESHOLDS["ready"]
        self.assertEqual(default.total_seconds(), 30 * 60)
        self._pass(-60, -59, "queue_empty")
        self._job("pending", "root.qjsh_paused", created=-1500)  # 25 min
        self._job("pending", "root.qjsh_a", created=-600)  # 10 min
        self._job("pending", "root.qjsh_a", created=-300, eta=-120)
        self._job("pending", "root.qjsh_b", created=-7200, eta=60)  # not ready
        self._job("failed", "root.qjsh_b", created=-7200)  # not ready
        self.assertNotIn("ready_jobs_waiting", [c for c, _level in self._codes()])
        self._job("pending", "root.qjsh_paused", created=-2400)  # 40 min
        (warning,) = (w for w in self._warnings() if w["code"] == "ready_jobs_waiting")
        self.assertEqual(warning["level"], "warning")
        self.assertIn(
            "ready for more than 30 min and not started, in "
            "root.qjsh_paused (oldest: 40 min, paused):",
            warning["message"],
        )
        # the figure is the Runners screen's own
        stat = self.env[STAT].search([("name", "=", "root.qjsh_paused")])
        self.assertEqual(stat.oldest_ready_seconds, 2400)
        self._set_param(param, "9")
        (warning,) = (w for w in self._warnings() if w["code"] == "ready_jobs_waiting")
        self.assertIn(
            "root.qjsh_a (oldest: 10 min), root.qjsh_paused (oldest: 40 min, paused)",
            warning["message"],
        )

    def test_invalid_threshold_parameter(self):
        """A system parameter set by hand to something else than a whole
        number of minutes is reported, and its default applies."""
        param = HEALTH_THRESHOLDS["no_pass"][0]
        self._job("pending", "root.qjsh_a", created=-5)
        self._pass(-1200, -1190, "queue_empty")  # 20 minutes ago
        for value in ("abc", "0", "-3", "2.5"):
            self._set_param(param, value)
            warnings = {w["code"]: w for w in self._warnings()}
            self.assertEqual(warnings["invalid_health_setting"]["level"], "warning")
            self.assertIn(
                f"{param} is not a whole number of minutes (1 or more): {value!r}; "
                "15 minutes apply",
                warnings["invalid_health_setting"]["message"],
            )
            # the default applies: 20 minutes without a pass is too long
            self.assertIn("no_recent_pass", warnings)

    def test_health_levels(self):
        """503 for danger and warning, never for info."""
        Monitoring = self.env[MONITORING]
        self._pass(-60, -59, "queue_empty")
        healthy, body = Monitoring._health()
        self.assertTrue(healthy)
        self.assertEqual(body, {"status": "ok", "db": self.env.cr.dbname})
        self._job("started", "root.qjsh_a", created=-9000, started=-7200)
        healthy, body = Monitoring._health()
        self.assertFalse(healthy)
        self.assertEqual(body["status"], "failing")
        self.assertEqual([p["code"] for p in body["problems"]], ["jobs_stuck_started"])


@tagged("post_install", "-at_install")
class TestMonitoringSettings(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = new_test_user(
            cls.env, "qjsh_system", groups="base.group_user,base.group_system"
        )
        cls.manager = new_test_user(
            cls.env,
            "qjsh_queue_manager",
            groups="base.group_user,queue_job.group_queue_job_manager",
        )

    def _token(self):
        return self.env["ir.config_parameter"].sudo().get_param(TOKEN_PARAM)

    def test_token_generated_at_install_shown_and_regenerated(self):
        token = self._token()
        self.assertGreaterEqual(len(token), 40)
        settings = self.env["res.config.settings"].with_user(self.admin).create({})
        self.assertEqual(settings.queue_job_sh_monitoring_token, token)
        settings.action_queue_job_sh_regenerate_monitoring_token()
        self.assertNotEqual(self._token(), token)
        self.assertGreaterEqual(len(self._token()), 40)

    def test_token_generated_when_missing(self):
        """A database installed before, or a copy neutralized: Settings
        show a new token."""
        token = self._token()
        _delete_token(self.env)
        self.assertFalse(self._token())
        settings = self.env["res.config.settings"].with_user(self.admin).create({})
        new_token = settings.queue_job_sh_monitoring_token
        self.assertTrue(new_token)
        self.assertNotEqual(new_token, token)
        self.assertEqual(self._token(), new_token)
        # generated once: shown again, the same
        self.assertEqual(self.env[MONITORING]._monitoring_token(), new_token)

    def test_token_for_system_administrators_only(self):
        settings = self.env["res.config.settings"].with_user(self.admin).create({})
        token = self._token()
        with self.assertRaises(AccessError):
            settings.with_user(
                self.manager
            ).action_queue_job_sh_regenerate_monitoring_token()
        self.assertEqual(self._token(), token)
        with self.assertRaises(AccessError):
            self.env["res.config.settings"].with_user(self.manager).create({})
        # the field itself is restricted
        self.assertEqual(
            self.env["res.config.settings"]
            ._fields["queue_job_sh_monitoring_token"]
            .groups,
            "base.group_system",
        )
        with self.assertRaises(AccessError):
            self.env["ir.config_parameter"].with_user(self.manager).get_param(
                TOKEN_PARAM
            )

    def test_thresholds_in_settings(self):
        settings = self.env["res.config.settings"].create({})
        self.assertRecordValues(
            settings,
            [
                {
                    "queue_job_sh_health_no_pass_minutes": 15,
                    "queue_job_sh_health_started_minutes": 60,
                    "queue_job_sh_health_ready_minutes": 30,
                }
            ],
        )
        settings.queue_job_sh_health_ready_minutes = 45
        settings.execute()
        self.assertEqual(
            self.env["ir.config_parameter"].get_param(HEALTH_THRESHOLDS["ready"][0]),
            "45",
        )
        with self.assertRaises(ValidationError):
            self.env["res.config.settings"].create(
                {"queue_job_sh_health_no_pass_minutes": 0}
            )


@tagged("post_install", "-at_install")
class TestMonitoringHttp(MonitoringDataMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_monitoring_data()
        cls.token = cls.env[MONITORING]._monitoring_token()

    def _get(self, path, token=None, method="GET", headers=None):
        if token:
            headers = {"Authorization": f"Bearer {token}"}
        return self.opener.request(
            method, self.base_url() + path, headers=headers, timeout=30
        )

    def _samples(self, text):
        """``{(name, channel or None): value}`` of a scrape, checking that
        every sample has the db label."""
        samples = {}
        for family in text_string_to_metric_families(text):
            self.assertEqual(family.type, "gauge", family.name)
            for sample in family.samples:
                labels = dict(sample.labels)
                self.assertEqual(labels.pop("db"), self.env.cr.dbname)
                key = (sample.name, *(labels[name] for name in sorted(labels)))
                self.assertNotIn(key, samples)
                samples[key] = sample.value
        return samples

    def test_metrics_equal_the_runners_screen(self):
        self._job("pending", "root.qjsh_a", created=-300)
        self._job("pending", "root.qjsh_a", created=-100)
        self._job("pending", "root.qjsh_a", created=-10, eta=600)
        self._job("started", "root.qjsh_a", created=-40, started=-30)
        self._job("failed", "root.qjsh_a", created=-5000, started=-4000)
        self._job("wait_dependencies", "root.qjsh_a", created=-50)
        self._job("pending", "root.qjsh_paused", created=-2400)
        self._job("pending", 'root.odd"name\\x', created=-20)
        # done: 2 in the last minute, 3 more in the hour, 1 before it
        for done in (-10, -50, -600, -1200, -3000, -4000):
            self._job("done", "root", created=done - 5, started=done - 2, done=done)
        # started in the last 15 minutes: latencies 3 s (three done jobs and
        # one after its ETA) and 10 s (the started one)
        self._job("done", "root", created=-200, eta=-100, started=-97, done=-90)
        self._passes(
            (-40, -30, 2, 1, 0),  # ended in the last minute
            (-900, -880, 5, 2, 3),
            (-4000, -3900, 9, 4, 4),  # ended over an hour ago
            (-20, None, 0, 0, 0),  # running
        )
        response = self._get("/queue_job_sh/metrics", self.token)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8"
        )
        self.assertNotIn("Set-Cookie", response.headers)
        samples = self._samples(response.text)

        screen = self.env[DASHBOARD].get_dashboard_data()
        summary = screen["summary"]
        stats = self.env[STAT].search([])
        self.assertGreaterEqual(len(stats), 4)
        for stat in stats:
            for metric, field in (
                ("capacity", "capacity"),
                ("paused", "paused"),
                ("running", "running"),
                ("ready", "ready"),
                ("waiting_eta", "waiting"),
                ("waiting_dependencies", "waiting_dependencies"),
                ("failed", "failed"),
                ("oldest_ready_age_seconds", "oldest_ready_seconds"),
            ):
                self.assertEqual(
                    samples.pop((f"queue_job_channel_{metric}", stat.name)),
                    stat[field],
                    f"{metric} of {stat.name}",
                )
        self.assertEqual(
            samples.pop(("queue_job_done_last_hour",)), summary["done_last_hour"]
        )
        self.assertEqual(
            samples.pop(("queue_job_sh_runner_crons",)), summary["runners"]
        )
        self.assertEqual(
            samples.pop(("queue_job_sh_runner_crons_active",)),
            summary["runners_active"],
        )
        self.assertEqual(
            samples.pop(("queue_job_sh_runner_crons_running",)),
            summary["running_passes"],
        )
        last_pass = fields.Datetime.to_datetime(summary["last_pass_at"])
        self.assertEqual(
            samples.pop(("queue_job_sh_last_pass_age_seconds",)),
            (self.now - last_pass).total_seconds(),
        )
        counts = {}
        for warning in screen["warnings"]:
            key = ("queue_job_sh_health_warnings", warning["code"], warning["level"])
            counts[key] = counts.get(key, 0) + 1
        for key, count in counts.items():
            self.assertEqual(samples.pop(key), count, key)
        self.assertEqual(samples.pop(("queue_job_sh_up",)), 0)  # the paused channel
        # the figures the screen does not show, from the data above
        self.assertEqual(samples.pop(("queue_job_start_latency_p50_seconds",)), 3)
        self.assertAlmostEqual(  # 3 + 0.8 * (10 - 3)
            samples.pop(("queue_job_start_latency_p95_seconds",)), 8.6
        )
        self.assertEqual(
            samples,
            {
                ("queue_job_done_last_minute",): 2,
                ("queue_job_failed_last_minute",): 1,
                ("queue_job_failed_last_hour",): 3,
                ("queue_job_retried_last_minute",): 0,
                ("queue_job_retried_last_hour",): 3,
            },
        )
        # and the known values of a few
        self.assertEqual(summary["done_last_hour"], 6)  # with the one after its ETA
        stat = stats.filtered(lambda s: s.name == "root.qjsh_a")
        self.assertRecordValues(
            stat,
            [
                {
                    "capacity": 4,
                    "running": 1,
                    "ready": 2,
                    "waiting": 1,
                    "failed": 1,
                    "waiting_dependencies": 1,
                    "oldest_ready_seconds": 300,
                }
            ],
        )
        # the screen shows the last pass to the second
        self.assertAlmostEqual((self.now - last_pass).total_seconds(), 20, delta=1)

    def test_metrics_without_figures(self):
        """No job started lately, no pass: NaN, as the format says."""
        response = self._get("/queue_job_sh/metrics", self.token)
        samples = self._samples(response.text)
        for name in (
            "queue_job_start_latency_p50_seconds",
            "queue_job_start_latency_p95_seconds",
            "queue_job_sh_last_pass_age_seconds",
        ):
            self.assertTrue(math.isnan(samples[(name,)]), name)
        self.assertEqual(samples[("queue_job_sh_up",)], 1)

    def test_health(self):
        self._pass(-60, -59, "queue_empty")
        response = self._get("/queue_job_sh/health", self.token)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.headers["Content-Type"], "application/json; charset=utf-8"
        )
        self.assertEqual(response.headers["Cache-Control"], "no-store")
        self.assertNotIn("Set-Cookie", response.headers)
        self.assertEqual(response.json(), {"status": "ok", "db": self.env.cr.dbname})
        # a monitor that cannot set headers; and HEAD
        response = self._get(f"/queue_job_sh/health?token={self.token}")
        self.assertEqual((response.status_code, response.json()["status"]), (200, "ok"))
        response = self._get("/queue_job_sh/health", self.token, method="HEAD")
        self.assertEqual((response.status_code, response.content), (200, b""))

        self.crons.active = False
        response = self._get("/queue_job_sh/health", self.token)
        self.assertEqual(response.status_code, 503)
        body = response.json()
        self.assertEqual(body["status"], "failing")
        self.assertEqual(
            [p["code"] for p in body["problems"]], ["runner_crons_inactive"]
        )
        self.assertIn("Runner crons inactive", body["problems"][0]["message"])
        response = self._get("/queue_job_sh/health", self.token, method="HEAD")
        self.assertEqual(response.status_code, 503)

    def test_refused(self):
        """No token, a wrong one, a method other than GET: werkzeug's plain
        404, the same for both routes, nothing written."""
        expected = self.env["ir.config_parameter"].sudo().get_param(TOKEN_PARAM)
        answers = []
        for path in ("/queue_job_sh/health", "/queue_job_sh/metrics"):
            for request in (
                {},
                {"token": "wrong"},
                {"token": expected[:-1]},
                {"token": expected + "x"},
                {"token": "é" * 43},
                {"token": self.token, "method": "POST"},
                {"token": self.token, "method": "PUT"},
            ):
                response = self._get(path, **request)
                answers.append(
                    (
                        response.status_code,
                        response.headers["Content-Type"],
                        response.content,
                    )
                )
                self.assertNotIn("Set-Cookie", response.headers)
            for query in ("", "token=", "token=wrong", f"token={self.token}&token=x"):
                response = self._get(f"{path}?{query}")
                answers.append(
                    (
                        response.status_code,
                        response.headers["Content-Type"],
                        response.content,
                    )
                )
            # another scheme than Bearer
            response = self._get(path, headers={"Authorization": f"Basic {self.token}"})
            answers.append(
                (
                    response.status_code,
                    response.headers["Content-Type"],
                    response.content,
                )
            )
        self.assertEqual(len(set(answers)), 1, answers)
        status, content_type, content = answers[0]
        self.assertEqual((status, content_type), (404, "text/html; charset=utf-8"))
        self.assertIn(b"<title>404 Not Found</title>", content)
        # the token itself works
        self.assertEqual(
            self._get("/queue_job_sh/metrics", self.token).status_code, 200
        )

    def test_no_token_in_database(self):
        """A database without token (neutralized copy) opens to nobody."""
        _delete_token(self.env)
        for token in (None, self.token, "", "None", "False"):
            response = self._get("/queue_job_sh/health", token)
            self.assertEqual(response.status_code, 404, token)
        response = self._get("/queue_job_sh/health?token=")
        self.assertEqual(response.status_code, 404)
