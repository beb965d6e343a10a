#!/usr/bin/env python3
# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Odoo's command line, started from a file: ``python3 dev/odoo_server.py
server -d ...`` does what the ``odoo`` script does.

The tests and the benchmark start Odoo through this file rather than the
``odoo`` script or ``python3 -m odoo``:

- a prefork server starts its gevent (websocket) process by running
  ``sys.argv[0]`` again; under ``-m odoo`` that is the path of a package
  module, which cannot run on its own, so the master respawns a failing
  process in a loop and burns CPU for the whole life of the server;
- the ``odoo`` script of a ``setup.py develop`` install first resolves
  every requirement with ``pkg_resources``, which fails on names it does
  not normalise (``zope.event`` 6).
"""

import os

# as Odoo's own script does, before anything imports time
os.environ["TZ"] = "UTC"

# 19.0: odoo is a namespace package, a bare "import odoo" loads no odoo.cli
import odoo.cli  # noqa: E402

if __name__ == "__main__":
    odoo.cli.main()
