# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Installs the addon as ``odoo.addons.queue_job_sh``.

``pip install .`` also pulls OCA queue_job from PyPI (it needs Odoo 18 on the
machine, which PyPI does not have); ``pip install --no-deps .`` installs the
addon alone.
"""

import ast
import pathlib

from setuptools import setup

ROOT = pathlib.Path(__file__).parent
ADDON = ROOT / "queue_job_sh"
MANIFEST = ast.literal_eval((ADDON / "__manifest__.py").read_text())

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
    version=MANIFEST["version"],
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
    install_requires=[
        # 18.0.4.x: queue_job_lock, the classmethod RunJobController API and
        # the channel settings stored in the database, which this addon uses
        "odoo-addon-queue_job>=18.0.4,<18.0.5",
        "requests",
    ],
    classifiers=[
        "Programming Language :: Python",
        "Framework :: Odoo",
        "Framework :: Odoo :: 18.0",
        "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)",
    ],
)
