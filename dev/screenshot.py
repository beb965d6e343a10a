#!/usr/bin/env python3
# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Take a screenshot of a page of a running Odoo, logged in, for the docs.

    dev/screenshot.py URL OUT.png --db DB [--login admin] [--password admin]
                      [--ready JS] [--size 1400x1000]

For instance, with ``dev/demo`` running (run with the Python of the
project's environment, which has requests and websocket-client), with
``ACTION=queue_job_sh.queue_job_sh_dashboard_action`` and
``CHARTS_DRAWN="document.querySelectorAll('.o_queue_job_sh_runners canvas')
.length === 2"``::

    .local/venv/18.0/bin/python dev/screenshot.py \\
        "http://127.0.0.1:8069/odoo/action-$ACTION" \\
        queue_job_sh/static/description/runners.png --db queue_job_sh_demo_18_0 \\
        --password "$PASSWORD" --ready "$CHARTS_DRAWN"

Logs in with Odoo's JSON-RPC session route, starts Debian's ``chromium``
headless with a profile of its own, hands it the session cookie over the
DevTools protocol, waits until ``--ready`` holds in the page, and saves the
screenshot.
"""

import argparse
import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
from urllib.parse import urlsplit

import requests
import websocket


def login(url, db, user, password):
    """The session id of ``user`` on the Odoo at ``url``."""
    parts = urlsplit(url)
    response = requests.post(
        f"{parts.scheme}://{parts.netloc}/web/session/authenticate",
        json={"params": {"db": db, "login": user, "password": password}},
        timeout=30,
    )
    response.raise_for_status()
    if response.json().get("error"):
        raise SystemExit(f"login failed: {response.json()['error']['message']}")
    return response.cookies["session_id"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Page:
    """One tab of a headless chromium, driven over the DevTools protocol."""

    def __init__(self, size):
        browser = shutil.which("chromium") or shutil.which("google-chrome")
        if not browser:
            raise SystemExit("no chromium: apt-get install chromium")
        self.profile = tempfile.TemporaryDirectory()
        port = free_port()
        self.process = subprocess.Popen(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                f"--window-size={size}",
                f"--user-data-dir={self.profile.name}",
                "--remote-debugging-address=127.0.0.1",
                f"--remote-debugging-port={port}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        targets = self._wait(
            lambda: requests.get(f"http://127.0.0.1:{port}/json", timeout=5).json()
        )
        page = next(target for target in targets if target["type"] == "page")
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"])
        self.last_id = 0

    @staticmethod
    def _wait(function, seconds=30):
        deadline = time.monotonic() + seconds
        while True:
            try:
                result = function()
                if result:
                    return result
            except (requests.RequestException, ValueError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the browser did not answer")
            time.sleep(0.2)

    def call(self, method, **params):
        self.last_id += 1
        self.socket.send(
            json.dumps({"id": self.last_id, "method": method, "params": params})
        )
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.last_id:
                if "error" in message:
                    raise SystemExit(f"{method}: {message['error']}")
                return message["result"]

    def close(self):
        self.socket.close()
        self.process.terminate()
        self.process.wait()
        self.profile.cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--db", required=True)
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--ready", default="document.readyState === 'complete'")
    parser.add_argument("--size", default="1400x1000")
    args = parser.parse_args()
    session_id = login(args.url, args.db, args.login, args.password)
    page = Page(args.size.replace("x", ","))
    try:
        page.call(
            "Network.setCookie", name="session_id", value=session_id, url=args.url
        )
        page.call("Page.navigate", url=args.url)
        page._wait(
            lambda: page.call("Runtime.evaluate", expression=args.ready)["result"].get(
                "value"
            ),
            seconds=60,
        )
        time.sleep(1)  # the charts' animation
        shot = page.call("Page.captureScreenshot")
        with open(args.out, "wb") as file:
            file.write(base64.b64decode(shot["data"]))
    finally:
        page.close()
    print(args.out)


if __name__ == "__main__":
    main()
