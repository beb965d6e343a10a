# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A runner that stalls between the claim of a job and its lock, for the
integration tests (``test_stall.py``).

In a server started with ``TEST_QUEUE_JOB_SH_STALL=<prefix>``, a probe job
whose key starts with that prefix stops the process of the runner that
claimed it (SIGSTOP), once, right before that runner takes the job's lock:
the state a GC pause, CPU throttling or a slow load leave a live runner in.
The test continues the process (SIGCONT) when it wants. Nowhere else: the
demo and the benchmark run this addon too.
"""

import os
import signal

STALL_ENV = "TEST_QUEUE_JOB_SH_STALL"


def _stalling(run_claimed, prefix):
    def run_claimed_after_a_stall(env, claimed, registry_changed):
        # a connection of its own: the runner's is in no transaction now
        with env.registry.cursor() as cr:
            probe = env(cr=cr)["test.queue.job.sh.probe"]
            job = env(cr=cr)["queue.job"].browse(claimed.id)
            key = job.kwargs.get("key") or (job.args or [None])[0]
            first = (
                job.method_name == "probe"
                and str(key).startswith(prefix)
                and not probe.search_count([("key", "=", f"stalled:{key}")])
            )
            if first:
                probe._record(f"stalled:{key}", 0)
        if first:
            os.kill(os.getpid(), signal.SIGSTOP)
        return run_claimed(env, claimed, registry_changed)

    run_claimed_after_a_stall.stalls = True
    return run_claimed_after_a_stall


def install(env):
    """Make queue_job_sh's runners stall as :data:`STALL_ENV` says, where it
    is installed (from the probe model's ``_register_hook``)."""
    prefix = os.environ.get(STALL_ENV)
    if not prefix or "queue.job.sh.runner" not in env:
        return
    from odoo.addons.queue_job_sh import run_job

    if not getattr(run_job.run_claimed, "stalls", False):
        run_job.run_claimed = _stalling(run_job.run_claimed, prefix)
