# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import os
import threading

import psycopg2
from psycopg2 import sql

from odoo import api, models
from odoo.sql_db import connection_info_for

from odoo.addons.base.models import ir_cron

# Per process id: [lock, connection to the postgres database or None]. A
# forked child makes its own and never touches (nor closes, which would end
# the parent's session) the one it inherited.
_WAKE_CONNECTIONS = {}


def _notify_cron_workers(dbname):
    entry = _WAKE_CONNECTIONS.setdefault(os.getpid(), [threading.Lock(), None])
    query = sql.SQL("SELECT {}('cron_trigger', %s)").format(
        sql.Identifier(ir_cron.ODOO_NOTIFY_FUNCTION)
    )
    with entry[0]:
        for attempt in (1, 2):
            try:
                if entry[1] is None:
                    _dsn, info = connection_info_for("postgres")
                    entry[1] = psycopg2.connect(**info)
                    entry[1].autocommit = True
                with entry[1].cursor() as cr:
                    cr.execute(query, (dbname,))
                return
            except psycopg2.Error:
                # a restarted server or a broken socket: once more, anew
                if entry[1] is not None:
                    entry[1].close()
                entry[1] = None
                if attempt == 2:
                    raise


class IrCron(models.Model):
    _inherit = "ir.cron"

    @api.model
    def _notifydb(self):
        """Wake up the cron workers, on a connection kept open.

        Odoo sends this NOTIFY on a new connection to the ``postgres``
        database each time (its pool keeps none to that database): after the
        commit of every transaction that enqueues a job, so that the runner
        it triggers starts that much later, 10 to 40 ms with password
        authentication (bench/run, docs/bench.md). Each process keeps one
        connection instead, in autocommit, shared by its threads under a
        lock. Same NOTIFY (channel ``cron_trigger``, the database's name,
        Odoo's ``ODOO_NOTIFY_FUNCTION``), same listeners.
        """
        _notify_cron_workers(self.env.cr.dbname)
