# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Fixtures for the engine tests: a real PostgreSQL server, no Odoo.

The engine modules are imported from the addon's folder as a package of
their own, ``queue_job_sh_engine``, because importing the ``queue_job_sh``
package would import Odoo; they import each other only. The database server
is the one described by the libpq environment (PGHOST, PGPORT, PGUSER,
PGPASSWORD), which ``dev/test`` starts; each test gets a fresh schema.
"""

import importlib
import pathlib
import sys
import types
import uuid

import psycopg2
import pytest
from psycopg2 import sql
from psycopg2.extensions import ISOLATION_LEVEL_REPEATABLE_READ

ADDON = pathlib.Path(__file__).resolve().parents[2]
REPO = ADDON.parent


_ENGINE = types.ModuleType("queue_job_sh_engine")
_ENGINE.__path__ = [str(ADDON)]
sys.modules["queue_job_sh_engine"] = _ENGINE


def _load(name):
    return importlib.import_module(f"queue_job_sh_engine.{name}")


budget = _load("budget")
channels = _load("channels")
claim = _load("claim")
pass_loop = _load("pass_loop")
queue_state = _load("queue_state")
recovery = _load("recovery")
schema = _load("schema")
transactions = _load("transactions")

# The columns of queue_job 18.0's tables that the engine reads or writes,
# plus two timestamps the concurrency tests record.
QUEUE_JOB_TABLES = """
CREATE TABLE queue_job (
    id serial PRIMARY KEY,
    uuid varchar NOT NULL UNIQUE,
    state varchar NOT NULL,
    channel varchar,
    priority integer,
    eta timestamp,
    date_created timestamp,
    date_enqueued timestamp,
    date_started timestamp,
    date_done timestamp,
    retry integer,
    max_retries integer,
    exc_name varchar,
    exc_message varchar,
    exc_info text,
    worker_pid integer,
    claimed_at timestamptz,
    done_at timestamptz,
    claim_order integer
);
CREATE TABLE queue_job_lock (
    id integer PRIMARY KEY,
    queue_job_id integer REFERENCES queue_job (id) ON DELETE CASCADE
);
"""


class Cursor:
    """A psycopg2 cursor with the interface of Odoo's that the engine uses:
    ``commit()`` and ``rollback()`` on the cursor."""

    def __init__(self, connection):
        self.connection = connection
        self._cursor = connection.cursor()

    def commit(self):
        self.connection.commit()

    def rollback(self):
        self.connection.rollback()

    def __getattr__(self, name):
        return getattr(self._cursor, name)


class Database:
    """A schema of its own in the test database, and connections to it."""

    def __init__(self, schema):
        self.schema = schema
        self.connections = []

    def connect(self, isolation=ISOLATION_LEVEL_REPEATABLE_READ):
        """A connection like Odoo's (REPEATABLE READ)."""
        conn = psycopg2.connect(options=f"-c search_path={self.schema}")
        conn.set_isolation_level(isolation)
        self.connections.append(conn)
        return conn

    def cursor(self):
        """A :class:`Cursor` on a new connection."""
        return Cursor(self.connect())

    def add_jobs(self, cr, count=1, **values):
        """Insert ``count`` jobs; returns their ids, in insertion order."""
        values = {
            "state": "pending",
            "channel": "root",
            "priority": 10,
            "retry": 0,
            "max_retries": 5,
            **values,
        }
        columns = ", ".join(values)
        ids = []
        for _n in range(count):
            cr.execute(
                f"INSERT INTO queue_job (uuid, date_created, {columns}) "
                f"VALUES (%s, now() AT TIME ZONE 'UTC' + %s * interval '1 us', "
                f"{', '.join(['%s'] * len(values))}) RETURNING id",
                [str(uuid.uuid4()), len(ids), *values.values()],
            )
            ids.append(cr.fetchone()[0])
        return ids

    def close(self):
        for conn in self.connections:
            conn.close()


@pytest.fixture
def db():
    admin = psycopg2.connect()
    admin.autocommit = True
    schema_name = f"engine_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cr:
        cr.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema_name)))
        cr.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema_name)))
        cr.execute(QUEUE_JOB_TABLES)
        schema.create(cr)
    database = Database(schema_name)
    yield database
    database.close()
    with admin.cursor() as cr:
        cr.execute(
            sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema_name))
        )
    admin.close()


@pytest.fixture
def cr(db):
    return db.cursor()
