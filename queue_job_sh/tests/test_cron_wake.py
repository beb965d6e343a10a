# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import os
import select
import time

import psycopg2

from odoo.sql_db import connection_info_for
from odoo.tests.common import TransactionCase

from .. import wake


class TestCronWake(TransactionCase):
    """Cron workers are woken on one connection per process, kept open."""

    def setUp(self):
        super().setUp()
        _dsn, info = connection_info_for("postgres")
        # what Odoo's cron workers listen to
        self.listener = psycopg2.connect(**info)
        self.listener.autocommit = True
        self.addCleanup(self.listener.close)
        self.listener.cursor().execute("LISTEN cron_trigger")

    def notified(self):
        payloads = []
        deadline = time.monotonic() + 5
        while not payloads and time.monotonic() < deadline:
            select.select([self.listener], [], [], 0.5)
            self.listener.poll()
            payloads += [notify.payload for notify in self.listener.notifies]
            self.listener.notifies.clear()
        return payloads

    def wake_connection_pid(self):
        return wake._CRON_WAKE_CONNECTIONS[os.getpid()][1].connection.info.backend_pid

    def test_one_connection_kept_and_renewed(self):
        dbname = self.env.cr.dbname
        self.env["ir.cron"]._notifydb()
        self.assertEqual(self.notified(), [dbname])
        pid = self.wake_connection_pid()
        self.env["ir.cron"]._notifydb()
        self.assertEqual(self.notified(), [dbname])
        self.assertEqual(self.wake_connection_pid(), pid)
        # PostgreSQL ends that session (a restart, an administrator): the
        # next wake-up still gets through, on a new connection
        self.listener.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.2)
        self.env["ir.cron"]._notifydb()
        self.assertEqual(self.notified(), [dbname])
        self.assertNotEqual(self.wake_connection_pid(), pid)
