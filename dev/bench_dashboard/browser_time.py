# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Time the Runners screen in headless Chromium against a running server.

``python3 browser_time.py http://127.0.0.1:8069 DB [LOGIN PASSWORD]``: logs
in, opens the screen twice (the second time with the assets cached) and
prints the time until every figure is shown: the summary, the channel rows,
both graphs and the latest passes.
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time

import requests
import websocket

READY = (
    "!!document.querySelector('.o_queue_job_sh_summary')"
    " && document.querySelectorAll('.o_queue_job_sh_runners canvas').length === 2"
    " && !!document.querySelector('.o_queue_job_sh_channels .o_data_row')"
    " && !!document.querySelector('.o_queue_job_sh_passes .o_list_table')"
)
PATH = "/odoo/action-queue_job_sh.queue_job_sh_dashboard_action"


def login(base, db, user, password):
    session = requests.Session()
    page = session.get(f"{base}/web/login", params={"db": db}, timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    session.post(
        f"{base}/web/login",
        data={"login": user, "password": password, "csrf_token": token, "db": db},
        timeout=30,
    )
    return session.cookies["session_id"]


def main(base, db, user="admin", password="admin"):
    session_id = login(base, db, user, password)
    profile = tempfile.mkdtemp()
    chrome = subprocess.Popen(
        [
            shutil.which("chromium") or shutil.which("google-chrome"),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--window-size=1366,1350",
            "about:blank",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in chrome.stderr:
            if "DevTools listening on" in line:
                browser_ws = line.split()[-1]
                break
        port = browser_ws.split(":")[2].split("/")[0]
        targets = requests.get(f"http://127.0.0.1:{port}/json", timeout=10).json()
        page = next(t for t in targets if t["type"] == "page")
        ws = websocket.create_connection(page["webSocketDebuggerUrl"])
        ids = iter(range(1, 10**6))

        def call(method, **params):
            request_id = next(ids)
            ws.send(json.dumps({"id": request_id, "method": method, "params": params}))
            while True:
                message = json.loads(ws.recv())
                if message.get("id") == request_id:
                    return message.get("result")

        call("Network.enable")
        call(
            "Network.setCookie",
            name="session_id",
            value=session_id,
            url=base,
        )
        for attempt in ("first load", "assets cached"):
            start = time.perf_counter()
            call("Page.navigate", url=base + PATH)
            while not call("Runtime.evaluate", expression=READY)["result"].get("value"):
                if time.perf_counter() - start > 120:
                    state = "location.href + ' ' + document.body.innerText"
                    page = call("Runtime.evaluate", expression=state)["result"]
                    raise SystemExit(f"not ready after 120 s: {page}")
                time.sleep(0.02)
            print(f"{attempt:15} {time.perf_counter() - start:6.2f} s")  # noqa: T201
        ws.close()
    finally:
        chrome.terminate()
        chrome.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
