# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Installs the addon as ``odoo.addons.queue_job_sh``.

One source tree runs on several Odoo series, but OCA queue_job publishes one
package per series (each requires ``odoo==<series>.*``): the build requires
the queue_job of the Odoo series it is built for, the series of the ``odoo``
distribution installed where it builds, or ``QUEUE_JOB_SH_ODOO_SERIES``.
``pip install --no-build-isolation .`` in Odoo's environment also pulls
queue_job from PyPI; ``pip install --no-deps .`` installs the addon alone.
"""

import ast
import configparser
import importlib.metadata
import os
import pathlib

from setuptools import setup

ROOT = pathlib.Path(__file__).parent
ADDON = ROOT / "queue_job_sh"
MANIFEST = ast.literal_eval((ADDON / "__manifest__.py").read_text())
SERIES_VARIABLE = "QUEUE_JOB_SH_ODOO_SERIES"
_SERIES = configparser.ConfigParser()
_SERIES.read(ROOT / "series.cfg")
# the queue_job of each supported Odoo series
QUEUE_JOB = {series: _SERIES[series]["queue_job"] for series in _SERIES.sections()}


def odoo_series():
    """The Odoo series to build for: the override, else the installed Odoo's."""
    series = os.environ.get(SERIES_VARIABLE)
    if not series:
        try:
            version = importlib.metadata.version("odoo")
        except importlib.metadata.PackageNotFoundError:
            raise SystemExit(
                f"queue_job_sh: no Odoo installed in this build environment, so "
                f"no queue_job series to require. Run pip in Odoo's environment "
                f"with --no-build-isolation, or set {SERIES_VARIABLE} to the "
                f"series to build for ({', '.join(QUEUE_JOB)})."
            ) from None
        # "18.0.post20250925" -> "18.0"
        series = ".".join(version.split(".")[:2])
    if series not in QUEUE_JOB:
        raise SystemExit(
            f"queue_job_sh: Odoo {series} is not supported "
            f"(supported: {', '.join(QUEUE_JOB)})."
        )
    return series


SERIES = odoo_series()

packages = ["odoo.addons.queue_job_sh"] + [
    "odoo.addons.queue_job_sh." + ".".join(path.parent.relative_to(ADDON).parts)
    for path in sorted(ADDON.rglob("__init__.py"))
    if path.parent != ADDON
]
data_files = [
    str(path.relative_to(ADDON))
    for path in sorted(ADDON.rglob("*"))
    if path.is_file() and path.suffix not in (".py", ".pyc")
]

setup(
    name="odoo-addon-queue_job_sh",
    # as Odoo shows it: the series, then the manifest's version
    version=f"{SERIES}.{MANIFEST['version']}",
    description=MANIFEST["summary"],
    long_description=(ROOT / "README.rst").read_text(),
    long_description_content_type="text/x-rst",
    license="LGPL-3",
    url=MANIFEST["website"],
    author=MANIFEST["author"],
    python_requires=">=3.10",
    packages=packages,
    package_dir={"odoo.addons.queue_job_sh": "queue_job_sh"},
    package_data={"odoo.addons.queue_job_sh": data_files},
    include_package_data=False,
    install_requires=[QUEUE_JOB[SERIES]],
    classifiers=[
        "Programming Language :: Python",
        "Framework :: Odoo",
        f"Framework :: Odoo :: {SERIES}",
        "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)",
    ],
)
