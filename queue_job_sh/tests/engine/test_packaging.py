# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``pip install --no-deps .`` installs the addon as odoo.addons.queue_job_sh,
with or without Odoo on the machine."""

import ast
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[3]


def test_pip_install_no_deps(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation"]
        + ["--quiet", "--target", str(target), str(REPO)],
        check=True,
        cwd=tmp_path,
    )
    addon = target / "odoo" / "addons" / "queue_job_sh"
    manifest = ast.literal_eval((addon / "__manifest__.py").read_text())
    for data_file in manifest["data"]:
        assert (addon / data_file).is_file(), data_file
    for module in ("claim.py", "budget.py", "models/queue_job_sh_runner.py"):
        assert (addon / module).is_file(), module
    assert (addon / "static" / "description" / "icon.png").is_file()
    # a namespace: installing the addon must not shadow Odoo's own packages
    assert not (target / "odoo" / "__init__.py").exists()
    assert not (target / "odoo" / "addons" / "__init__.py").exists()
    metadata = next(target.glob("odoo_addon_queue_job_sh-*.dist-info"))
    assert metadata.name.startswith(f"odoo_addon_queue_job_sh-{manifest['version']}")
    requires = (metadata / "METADATA").read_text()
    assert "Requires-Dist: odoo-addon-queue-job<18.0.5,>=18.0.4" in requires
