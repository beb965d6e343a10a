# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``pip install --no-deps .`` installs the addon as odoo.addons.queue_job_sh,
with or without Odoo on the machine, requiring the queue_job of the Odoo
series it is built for."""

import ast
import importlib.metadata
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
MANIFEST = ast.literal_eval((REPO / "queue_job_sh" / "__manifest__.py").read_text())
SERIES_VARIABLE = "QUEUE_JOB_SH_ODOO_SERIES"


def _environ(**variables):
    env = {k: v for k, v in os.environ.items() if k != SERIES_VARIABLE}
    env.update(variables)
    return env


def _setup_version(python, env):
    return subprocess.run(
        [python, str(REPO / "setup.py"), "--version"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )


@pytest.mark.parametrize(
    "series, requirement",
    [
        ("18.0", "odoo-addon-queue-job<18.0.5,>=18.0.4"),
        ("19.0", "odoo-addon-queue-job<19.0.3,>=19.0.2"),
    ],
)
def test_pip_install_no_deps(tmp_path, series, requirement):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation"]
        + ["--quiet", "--target", str(target), str(REPO)],
        check=True,
        cwd=tmp_path,
        env=_environ(**{SERIES_VARIABLE: series}),
    )
    addon = target / "odoo" / "addons" / "queue_job_sh"
    manifest = ast.literal_eval((addon / "__manifest__.py").read_text())
    for data_file in manifest["data"]:
        assert (addon / data_file).is_file(), data_file
    for module in (
        "claim.py",
        "budget.py",
        "odoo_series.py",
        "models/queue_job_sh_runner.py",
    ):
        assert (addon / module).is_file(), module
    assert (addon / "static" / "description" / "icon.png").is_file()
    # a namespace: installing the addon must not shadow Odoo's own packages
    assert not (target / "odoo" / "__init__.py").exists()
    assert not (target / "odoo" / "addons" / "__init__.py").exists()
    # the version Odoo shows: the series, then the manifest's
    (metadata,) = target.glob("odoo_addon_queue_job_sh-*.dist-info")
    assert metadata.name == (
        f"odoo_addon_queue_job_sh-{series}.{manifest['version']}.dist-info"
    )
    requires = (metadata / "METADATA").read_text()
    assert f"Requires-Dist: {requirement}\n" in requires
    assert f"Classifier: Framework :: Odoo :: {series}\n" in requires


def test_series_of_the_installed_odoo():
    result = _setup_version(sys.executable, _environ())
    try:
        odoo_version = importlib.metadata.version("odoo")
    except importlib.metadata.PackageNotFoundError:
        assert result.returncode != 0
        assert "no Odoo installed in this build environment" in result.stderr
        return
    series = ".".join(odoo_version.split(".")[:2])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == f"{series}.{MANIFEST['version']}"


def test_no_odoo_and_no_series_is_a_clear_error(tmp_path):
    # a Python with setuptools and without Odoo: the base interpreter
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages"]
        + [str(tmp_path / "venv")],
        check=True,
    )
    python = str(tmp_path / "venv" / "bin" / "python")
    probe = subprocess.run(
        [
            python,
            "-c",
            "import setuptools, importlib.util as u; "
            "raise SystemExit(bool(u.find_spec('odoo')))",
        ],
        env=_environ(),
    )
    if probe.returncode:
        pytest.skip("the base Python has no setuptools, or has Odoo")
    result = _setup_version(python, _environ())
    assert result.returncode != 0
    assert "no Odoo installed in this build environment" in result.stderr
    assert SERIES_VARIABLE in result.stderr
    result = _setup_version(python, _environ(**{SERIES_VARIABLE: "19.0"}))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == f"19.0.{MANIFEST['version']}"


def test_unsupported_series_is_a_clear_error():
    result = _setup_version(sys.executable, _environ(**{SERIES_VARIABLE: "17.0"}))
    assert result.returncode != 0
    assert "Odoo 17.0 is not supported (supported: 18.0, 19.0)" in result.stderr
