# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``odoo neutralize`` (what Odoo.sh runs on a staging build's copy of
production) on a copy of a database where the addon is set up: the webhook
URLs, their switch for staging, the webhooks' key and the monitoring token
are gone, the IP change jobs still to run are cancelled, and nothing else
differs from the same copy neutralized without this addon's script."""

import pathlib
import subprocess
import uuid
from collections import Counter

import psycopg2
import pytest
from conftest import (
    ODOO,
    REPO,
    _create,
    _drop,
    addons_path,
    db_args,
    odoo_shell,
    sql,
)
from psycopg2 import sql as pgsql

CLEARED = (
    "queue_job_sh.ip_change.webhook_urls",
    "queue_job_sh.ip_change.webhook_on_simulation",
    "queue_job_sh.ip_change.webhook_secret",
    "queue_job_sh.monitoring_token",
)
KEPT = (
    "queue_job_sh.ip_change.current",
    "queue_job_sh.ip_change.date",
    "queue_job_sh.ip_change.recent",
    "database.secret",
)

SETUP = """
import os
os.environ["ODOO_STAGE"] = "production"
config = env["ir.config_parameter"].sudo()
config.set_param("queue_job_sh.ip_change.webhook_urls",
                 "https://hooks.example.com/T000/B000/secret?token=1")
config.set_param("queue_job_sh.ip_change.webhook_on_simulation", "True")
config.set_param("queue_job_sh.monitoring_token", "production-token")
model = env["queue.job.sh.ip.change"]
# a change already handled, then one whose reaction is still to run
done = model._record_ip_change("11.22.33.44", "44.33.22.11", "production").job
model._record_ip_change("44.33.22.11", "55.66.77.88", "production")
payload = {"db": env.cr.dbname, "stage": "production", "simulation": False,
           "old": "11.22.33.44", "new": "44.33.22.11", "at": "2026-01-01T00:00:00Z"}
url = config.get_param("queue_job_sh.ip_change.webhook_urls")
model.with_delay()._send_ip_change_webhook(model._ip_change_webhook_ref(url), payload)
env["queue.job"].search([("uuid", "=", done.uuid)]).state = "done"
# someone else's job, still to run
env["test.queue.job.sh.probe"].with_delay().probe("kept")
env.cr.commit()
"""


def neutralize(db, addons):
    result = subprocess.run(
        [*ODOO, "neutralize", *db_args(db), f"--addons-path={addons}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Neutralization finished" in result.stderr


def rows(db):
    """Every table's rows, as a multiset of their text's digests."""
    conn = psycopg2.connect(dbname=db)
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            tables = [row[0] for row in cr.fetchall()]
            result = {}
            for table in tables:
                cr.execute(
                    pgsql.SQL("SELECT md5(t::text) FROM {} t").format(
                        pgsql.Identifier(table)
                    )
                )
                result[table] = Counter(row[0] for row in cr.fetchall())
            return result
    finally:
        conn.close()


def params(db):
    return dict(sql(db, "SELECT key, value FROM ir_config_parameter"))


def jobs(db):
    return dict(sql(db, "SELECT uuid, state FROM queue_job"))


def addons_path_without_this_addon():
    """The addons path without this repository's folders: Odoo does not
    find queue_job_sh there, nor its neutralization script."""
    ours = {REPO, REPO / "dev" / "addons"}
    return ",".join(
        path
        for path in addons_path().split(",")
        if pathlib.Path(path).resolve() not in ours
    )


@pytest.fixture
def copies(db):
    """The names of two copies of ``db``, dropped at the end."""
    names = [f"{db}_copy_{uuid.uuid4().hex[:6]}" for _copy in range(2)]
    yield names
    for name in names:
        _drop(name)


def test_neutralize(db, copies):
    odoo_shell(db, SETUP)
    before = params(db)
    assert all(before.get(key) for key in CLEARED + KEPT)
    ip_change_jobs = dict(
        sql(
            db,
            "SELECT uuid, state FROM queue_job "
            "WHERE model_name = 'queue.job.sh.ip.change'",
        )
    )
    assert sorted(ip_change_jobs.values()) == ["done", "pending", "pending"]
    for copy in copies:
        _create(copy, db)
    with_addon, without_addon = copies
    neutralize(with_addon, addons_path())
    neutralize(without_addon, addons_path_without_this_addon())

    # what this addon's script did
    neutralized = params(with_addon)
    assert not set(CLEARED) & set(neutralized)
    assert {key: neutralized[key] for key in KEPT} == {key: before[key] for key in KEPT}
    states = jobs(with_addon)
    for job_uuid, state in ip_change_jobs.items():
        assert states[job_uuid] == ("done" if state == "done" else "cancelled")
    # someone else's job is left as it was
    assert list(states.values()).count("pending") == 1

    # and nothing else: the two copies differ in those rows only
    rows_with, rows_without = rows(with_addon), rows(without_addon)
    assert rows_with.keys() == rows_without.keys()
    differing = {
        table for table in rows_with if rows_with[table] != rows_without[table]
    }
    assert differing == {"ir_config_parameter", "queue_job"}
    assert params(without_addon) == {
        **neutralized,
        **{key: before[key] for key in CLEARED},
    }
    assert len(rows_without["queue_job"] - rows_with["queue_job"]) == 2
    assert jobs(without_addon) == {
        **states,
        **{
            job_uuid: state
            for job_uuid, state in ip_change_jobs.items()
            if state == "pending"
        },
    }
    # Odoo's own neutralization ran on both
    assert neutralized["database.is_neutralized"] == "true"
