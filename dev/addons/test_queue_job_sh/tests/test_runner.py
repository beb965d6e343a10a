# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The runner pass inside Odoo: queue_job's semantics, kept.

A runner lives by its commits (``started`` is committed before the job runs,
failures are written on a cursor of their own), so these tests do not run in
the usual rolled-back test transaction: every step uses a real cursor that
commits, as a cron worker does, and ``tearDown`` deletes what a test made.
The multi-process behaviour (threads, prefork workers, kill -9) is tested
against real servers in ``queue_job_sh/tests/integration``.
"""

import os
import time
import warnings
from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

import odoo
from odoo import SUPERUSER_ID, api, fields
from odoo.modules.registry import Registry
from odoo.tests import tagged
from odoo.tests.common import BaseCase, get_db_name
from odoo.tools import mute_logger

from odoo.addons.queue_job.delay import chain
from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.jobrunner.runner import PG_ADVISORY_LOCK_ID
from odoo.addons.queue_job_sh import odoo_series, pass_steps, transactions
from odoo.addons.queue_job_sh.context import PassContext

RUNNER_LOGGER = "odoo.addons.queue_job_sh.models.queue_job_sh_runner"
RUN_JOB_LOGGER = "odoo.addons.queue_job_sh.run_job"
STEPS_LOGGER = "odoo.addons.queue_job_sh.pass_steps"
CONTROLLER_LOGGER = "odoo.addons.queue_job.controllers.main"
# A pass that may last a minute, neither in a cron loop nor lingering: it
# ends when nothing may start.
PASS_SECONDS = 60


# after queue_job_sh is installed: this addon does not depend on it
@tagged("post_install", "-at_install")
class RunnerCase(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())
        with cls.new_env() as env:
            cls.cron_id = env["queue.job.sh.runner"]._runner_crons()[:1].id

    @classmethod
    @contextmanager
    def new_env(cls):
        """An environment on a real cursor, committed when the block ends."""
        with cls.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {})

    def setUp(self):
        super().setUp()
        self.addCleanup(self.clean)
        self.clean()

    def clean(self):
        with self.new_env() as env:
            env.cr.execute("DELETE FROM queue_job")
            env.cr.execute("DELETE FROM test_queue_job_sh_probe")
            env.cr.execute("DELETE FROM queue_job_sh_pass")
            env.cr.execute("DELETE FROM ir_cron_trigger")
            env.cr.execute(
                "DELETE FROM queue_job_function WHERE name LIKE "
                "'<test.queue.job.sh.probe>.%%'"
            )
            env.cr.execute("DELETE FROM queue_job_channel WHERE name = 'paused'")
            if odoo_series.channel_setting_fields(env):
                env.cr.execute(
                    "UPDATE queue_job_channel SET capacity = 0 WHERE name = 'root'"
                )
            env["queue.job.sh.runner"]._sync_runner_crons()
            env.registry.clear_cache()

    def settings_in_records(self):
        """Whether this queue_job keeps the channel settings in records."""
        with self.new_env() as env:
            return bool(odoo_series.channel_setting_fields(env))

    def run_pass(self, seconds=PASS_SECONDS):
        """One pass of the first runner cron, as Odoo's cron worker runs it
        (with its progress record), of ``seconds`` at most."""
        with self.new_env() as env:
            cron, _progress = env["ir.cron"].browse(self.cron_id)._add_progress()
            env.cr.commit()
            env["queue.job.sh.runner"].with_context(
                cron.env.context, cron_id=self.cron_id
            )._run_pass_in(PassContext(time.time() + seconds, False, False))
        with self.new_env() as env:
            run = env["queue.job.sh.pass"].search([], limit=1).read()[0]
        # the runner never fails, whatever the jobs do
        self.assertNotEqual(run["end_reason"], "error", run["error"])
        return run

    @contextmanager
    def probe(self):
        """The probe model, in a transaction committed when the block ends."""
        with self.new_env() as env:
            yield env["test.queue.job.sh.probe"]

    def job(self, delayed, *fields_):
        with self.new_env() as env:
            record = env["queue.job"].search([("uuid", "=", delayed.uuid)])
            return record.read(list(fields_) or ["state"])[0]

    def probe_keys(self):
        with self.probe() as probe:
            return probe.search([], order="id").mapped("key")

    def job_function(self, method, **values):
        with self.new_env() as env:
            env["queue.job.function"].create(
                dict(
                    values,
                    model_id=env["ir.model"]._get_id("test.queue.job.sh.probe"),
                    method=method,
                )
            )
            env.registry.clear_cache()

    def left_by_a_dead_runner(self, *jobs):
        """``(delayed, retry)`` jobs left ``started`` a minute ago by a runner
        that died: their lock record exists and nobody holds it."""
        with self.new_env() as env:
            for delayed, retry in jobs:
                job = Job.load(env, delayed.uuid)
                job.set_started()  # adds the lock record
                job.retry = retry
                job.store()
            env.flush_all()
            env.cr.execute(
                "UPDATE queue_job SET date_enqueued = now() AT TIME ZONE 'UTC' "
                "- interval '1 minute'"
            )

    def failure_messages(self, delayed):
        with self.new_env() as env:
            record = env["queue.job"].search([("uuid", "=", delayed.uuid)])
            return record.message_ids.filtered(
                lambda message: message.subtype_id == env.ref("queue_job.mt_job_failed")
            ).mapped("body")


class TestRunnerPass(RunnerCase):
    def test_pass_runs_every_ready_job_by_priority(self):
        with self.probe() as probe:
            probe.with_delay(priority=20).probe("low")
            probe.with_delay(priority=5).probe("high")
            probe.with_delay(priority=10).probe("mid")
            later = probe.with_delay(eta=3600).probe("later")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = self.run_pass()
        # the progress API of the running series (19.0 deprecates 18.0's)
        self.assertFalse([w for w in caught if "_commit_progress" in str(w.message)])
        self.assertEqual(self.probe_keys(), ["high", "mid", "low"])
        self.assertEqual(self.job(later)["state"], "pending")
        self.assertEqual(
            (run["done_count"], run["failed_count"], run["end_reason"]),
            (3, 0, "queue_empty"),
        )
        self.assertTrue(run["ended_at"])
        with self.new_env() as env:
            done = env["queue.job"].search([("state", "=", "done")])
            self.assertEqual(len(done), 3)
            self.assertTrue(all(done.mapped("date_started")))
            # progress was reported, so Odoo never counts the pass as timed out
            progress = env["ir.cron.progress"].search(
                [("cron_id", "=", self.cron_id)], order="id desc", limit=1
            )
            self.assertEqual((progress.done, progress.remaining), (3, 0))
            # the pass ended with a job waiting for its ETA: it wakes up then
            self.assertTrue(
                env["ir.cron.trigger"].search(
                    [
                        ("cron_id", "=", self.cron_id),
                        ("call_at", ">", fields.Datetime.now() + timedelta(minutes=59)),
                    ]
                )
            )

    def test_retry_pattern_then_max_retries(self):
        self.job_function("probe_retry", retry_pattern={1: 100, 3: 300})
        with self.probe() as probe:
            delayed = probe.with_delay(max_retries=4).probe_retry(
                "flaky", failures=10, seconds=None
            )
        for tries, delay in enumerate([100, 100, 300], start=1):
            before = fields.Datetime.now()
            run = self.run_pass()
            self.assertEqual(run["retried_count"], 1)
            job = self.job(delayed, "state", "retry", "result", "eta")
            self.assertEqual((job["state"], job["retry"]), ("pending", tries))
            self.assertIn(f"attempt {tries}", job["result"])
            self.assertAlmostEqual(
                (job["eta"] - before).total_seconds(), delay, delta=5
            )
            with self.new_env() as env:  # time passes
                env.cr.execute("UPDATE queue_job SET eta = NULL")
        with mute_logger(CONTROLLER_LOGGER):
            run = self.run_pass()
        self.assertEqual(run["failed_count"], 1)
        job = self.job(delayed, "state", "exc_name")
        self.assertEqual(
            (job["state"], job["exc_name"]),
            ("failed", "odoo.addons.queue_job.exception.FailedJobError"),
        )
        self.assertEqual(self.probe_keys(), ["attempt:flaky"] * 4)

    def test_failure_values_chatter_and_on_fail(self):
        self.job_function("probe_fail", on_fail_method="probe_on_fail")
        with self.probe() as probe:
            delayed = probe.with_delay().probe_fail("boom")
            after = probe.with_delay(priority=50).probe("after")
        with mute_logger(CONTROLLER_LOGGER):
            run = self.run_pass()
        job = self.job(delayed, "state", "exc_name", "exc_message", "exc_info")
        self.assertEqual(job["state"], "failed")
        self.assertEqual(job["exc_name"], "odoo.exceptions.UserError")
        self.assertEqual(job["exc_message"], "probe boom fails on purpose")
        self.assertIn("Traceback", job["exc_info"])
        self.assertEqual(
            self.probe_keys(), ["on_fail:probe boom fails on purpose", "after"]
        )
        self.assertEqual(self.job(after)["state"], "done")
        self.assertEqual((run["failed_count"], run["done_count"]), (1, 1))
        self.assertTrue(self.failure_messages(delayed))

    def test_chain_runs_dependents_in_order_in_one_pass(self):
        with self.probe() as probe:
            chain(
                probe.delayable().probe("first"),
                probe.delayable().probe("second"),
                probe.delayable().probe("third"),
            ).delay()
        run = self.run_pass()
        self.assertEqual(self.probe_keys(), ["first", "second", "third"])
        self.assertEqual(run["done_count"], 3)

    def test_commit_guard_and_allow_commit(self):
        with self.probe() as probe:
            guarded = probe.with_delay().probe_commit("guarded")
        with mute_logger(CONTROLLER_LOGGER):
            self.run_pass()
        job = self.job(guarded, "state", "exc_message")
        self.assertEqual(job["state"], "failed")
        self.assertIn("Commit is forbidden", job["exc_message"])
        self.assertFalse(self.probe_keys())
        # the job function may allow it: the job then runs on a cursor of its
        # own and its commits do not release the job's lock
        self.job_function("probe_commit", allow_commit=True)
        with self.probe() as probe:
            allowed = probe.with_delay().probe_commit("allowed")
        self.run_pass()
        self.assertEqual(self.job(allowed)["state"], "done")
        self.assertEqual(self.probe_keys(), ["allowed"])

    def test_unloadable_job_is_retried_then_fails_with_a_clear_message(self):
        """A job this registry cannot load may need a module being installed:
        tried again a minute later, a try counted, failed after its
        retries; the queue goes on meanwhile."""
        with self.probe() as probe:
            broken = probe.with_delay(max_retries=2).probe("broken")
            fine = probe.with_delay(priority=50).probe("fine")
            probe.env.flush_all()
            probe.env.cr.execute(
                "UPDATE queue_job SET method_name = 'no_such_method' WHERE uuid = %s",
                (broken.uuid,),
            )
        with mute_logger(RUN_JOB_LOGGER):
            run = self.run_pass()
        job = self.job(broken, "state", "retry", "exc_message", "eta")
        self.assertEqual((job["state"], job["retry"]), ("pending", 1))
        self.assertIn("no_such_method", job["exc_message"])
        self.assertGreater(job["eta"], fields.Datetime.now() + timedelta(seconds=50))
        self.assertEqual(self.job(fine)["state"], "done")
        self.assertEqual((run["retried_count"], run["done_count"]), (1, 1))
        self.assertEqual(run["end_reason"], "queue_empty")
        with self.new_env() as env:  # a minute passes
            env.cr.execute("UPDATE queue_job SET eta = NULL")
        with mute_logger(RUN_JOB_LOGGER):
            run = self.run_pass()
        job = self.job(broken, "state", "retry", "exc_message")
        self.assertEqual((job["state"], job["retry"]), ("failed", 2))
        self.assertIn("cannot be loaded", job["exc_message"])
        self.assertEqual(run["failed_count"], 1)
        self.assertTrue(self.failure_messages(broken))

    def test_dead_jobs_are_recovered_then_run_or_failed(self):
        with self.probe() as probe:
            dead = probe.with_delay().probe("dead")
            poison = probe.with_delay(max_retries=3).probe("poison")
        self.left_by_a_dead_runner((dead, 0), (poison, 2))
        with mute_logger(RUNNER_LOGGER):
            run = self.run_pass()
        self.assertEqual(run["recovered_count"], 2)
        job = self.job(dead, "state", "retry")
        self.assertEqual((job["state"], job["retry"]), ("done", 2))
        job = self.job(poison, "state", "retry", "exc_name")
        self.assertEqual(
            (job["state"], job["retry"], job["exc_name"]), ("failed", 3, "JobFoundDead")
        )
        self.assertEqual(self.probe_keys(), ["dead"])
        self.assertTrue(self.failure_messages(poison))

    def test_a_race_lost_to_another_runner_is_retried_quietly(self):
        """A runner's transaction whose snapshot predates another runner's
        change of the same row gets a serialization failure: tried again in
        a new transaction, without an ERROR in the log."""
        with self.probe() as probe:
            delayed = probe.with_delay().probe("raced")
        attempts = []

        def raced(cr):
            with transactions.transaction(cr):
                cr.execute("SELECT 1")  # this transaction's snapshot
                if not attempts:
                    with self.new_env() as other:  # another runner commits
                        other.cr.execute(
                            "UPDATE queue_job SET priority = 9 WHERE uuid = %s",
                            (delayed.uuid,),
                        )
                attempts.append(len(attempts))
                cr.execute(
                    "UPDATE queue_job SET priority = 8 WHERE uuid = %s", (delayed.uuid,)
                )

        with self.new_env() as env, self.assertNoLogs("odoo.sql_db", "ERROR"):
            transactions.retrying(raced, pass_steps._QuietCursor(env.cr))
        self.assertEqual(attempts, [0, 1])
        self.assertEqual(self.job(delayed, "priority")["priority"], 8)

    def test_stands_down_while_queue_job_http_runner_is_active(self):
        with self.probe() as probe:
            delayed = probe.with_delay().probe("waits")
        # queue_job's runner holds this session lock on its own connection
        with odoo.sql_db.db_connect(get_db_name()).cursor() as other:
            other.execute("SELECT pg_advisory_lock(%s)", (PG_ADVISORY_LOCK_ID,))
            with self.assertLogs(RUNNER_LOGGER, "WARNING") as logs:
                run = self.run_pass()
            other.execute("SELECT pg_advisory_unlock(%s)", (PG_ADVISORY_LOCK_ID,))
        self.assertIn("HTTP jobrunner is active", logs.output[0])
        self.assertEqual(run["end_reason"], "http_runner")
        self.assertEqual(self.job(delayed)["state"], "pending")
        self.assertEqual(self.run_pass()["done_count"], 1)

    def test_budget_spent_triggers_a_new_pass(self):
        with self.probe() as probe:
            probe.with_delay().probe("one")
            probe.env.cr.execute("DELETE FROM ir_cron_trigger")
        run = self.run_pass(seconds=0)
        self.assertEqual((run["end_reason"], run["done_count"]), ("budget", 0))
        with self.new_env() as env:
            self.assertTrue(
                env["ir.cron.trigger"].search(
                    [
                        ("cron_id", "=", self.cron_id),
                        ("call_at", "<=", fields.Datetime.now()),
                    ]
                )
            )

    def test_paused_channel_waits(self):
        with self.probe() as probe:
            held = probe.with_delay(channel="root.paused").probe("held")
        channels = "root:1,root.paused:1:paused"
        with mock.patch.dict(os.environ, {"ODOO_QUEUE_JOB_CHANNELS": channels}):
            self.run_pass()
        self.assertEqual(self.job(held)["state"], "pending")
        self.run_pass()
        self.assertEqual(self.job(held)["state"], "done")

    def test_paused_channel_record_waits(self):
        """A channel paused in its record holds its jobs until resumed; with
        a queue_job that keeps no settings in records, a channel record
        holds nothing and its jobs run."""
        in_records = self.settings_in_records()
        with self.new_env() as env:
            channel = env["queue.job.channel"].create(
                {"name": "paused", "parent_id": env.ref("queue_job.channel_root").id}
            )
            if in_records:
                channel.action_pause()
            held = env["test.queue.job.sh.probe"].with_delay(channel="root.paused")
            held = held.probe("held")
        self.run_pass()
        if not in_records:
            self.assertEqual(self.job(held)["state"], "done")
            return
        self.assertEqual(self.job(held)["state"], "pending")
        with self.new_env() as env:
            env["queue.job.channel"].search([("name", "=", "paused")]).action_resume()
        self.run_pass()
        self.assertEqual(self.job(held)["state"], "done")


class TestRunnerCronsAndTriggers(RunnerCase):
    def count_triggers(self, env):
        return env["ir.cron.trigger"].search_count(
            [("cron_id", "in", env["queue.job.sh.runner"]._runner_crons().ids)]
        )

    def test_one_trigger_per_transaction_plus_one_per_eta_minute(self):
        in_an_hour = fields.Datetime.now().replace(second=0) + timedelta(hours=1)
        with self.probe() as probe:
            for number in range(10):
                probe.with_delay().probe(f"now-{number}")
            self.assertEqual(self.count_triggers(probe.env), 1)
            for second in (1, 2, 3):
                probe.with_delay(eta=in_an_hour.replace(second=second)).probe("eta")
            probe.with_delay(eta=in_an_hour + timedelta(minutes=1)).probe("eta")
            self.assertEqual(self.count_triggers(probe.env), 3)
        with self.probe() as probe:  # a new transaction asks again
            probe.with_delay().probe("next transaction")
            self.assertEqual(self.count_triggers(probe.env), 4)

    def test_runner_crons_follow_the_channels_option(self):
        with self.new_env() as env:
            runner = env["queue.job.sh.runner"]
            for capacity in (3, 2):
                channels = {"ODOO_QUEUE_JOB_CHANNELS": f"root:{capacity}"}
                with mock.patch.dict(os.environ, channels):
                    runner._sync_runner_crons()
                self.assertEqual(len(runner._runner_crons()), capacity)
            runner._sync_runner_crons()
            self.assertEqual(len(runner._runner_crons()), 1)

    def test_runner_crons_follow_the_root_capacity(self):
        """The root record's capacity, capped by max_capacity, where queue_job
        keeps it in records; else only the channels option counts (root:1
        without it), whatever max_capacity says."""
        if not self.settings_in_records():
            without_option = {"ODOO_QUEUE_JOB_MAX_CAPACITY": "8"}
            with self.new_env() as env, mock.patch.dict(os.environ, without_option):
                os.environ.pop("ODOO_QUEUE_JOB_CHANNELS", None)
                runner = env["queue.job.sh.runner"]
                runner._sync_runner_crons()
                self.assertEqual(len(runner._runner_crons()), 1)
            return
        with self.new_env() as env:
            root = env.ref("queue_job.channel_root")
            runner = env["queue.job.sh.runner"]
            with mock.patch.dict(os.environ, {"ODOO_QUEUE_JOB_MAX_CAPACITY": "8"}):
                root.capacity = 3
                crons = runner._runner_crons()
                self.assertEqual(len(crons), 3)
                self.assertEqual(set(crons.mapped("code")), {"model._run_pass()"})
                root.capacity = 2
                self.assertEqual(runner._runner_crons(), crons[:2])
            # without max_capacity, queue_job's root capacity is 1
            root.capacity = 4
            self.assertEqual(len(runner._runner_crons()), 1)
