"""The Celery app the tests' real worker processes run (``celery -A tests.worker_app worker``): the
project's own app, plus gates a test can open to stop a worker at a chosen point and kill it
there. The gates live here, not in the code they stop, so production code has no test waits.

* ``TEST_BUILD_GATE=<dir>``: after a build shard commits its first chunk, the worker writes its
  pid to ``<dir>/waiting`` and waits for ``<dir>/go``.
* ``TEST_EXPORT_GATE=<dir>``: the same once an 837 writer has made its first claim.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

from celery.signals import worker_process_init, worker_ready

from cbo_portal.celery import app

__all__ = ["app"]


def _wait_at(folder: str) -> None:
    Path(folder, "waiting").write_text(str(os.getpid()))
    while not Path(folder, "go").exists():
        time.sleep(0.05)


def _install_gates(**_kwargs: object) -> None:
    from billing.services import export837
    from billing.services.claims import bulk as claims

    build_gate, export_gate = os.environ.get("TEST_BUILD_GATE"), os.environ.get("TEST_EXPORT_GATE")
    if build_gate and not hasattr(claims._commit, "gated"):
        commit = claims._commit

        @functools.wraps(commit)
        def gated_commit(*args, **kwargs):
            result = commit(*args, **kwargs)
            _wait_at(build_gate)
            return result

        gated_commit.gated = True
        claims._commit = gated_commit
    if export_gate and not hasattr(export837._Builder.claims, "gated"):
        make = export837._Builder.claims

        @functools.wraps(make)
        def gated_claims(self, *args, **kwargs):
            for n, claim in enumerate(make(self, *args, **kwargs)):
                yield claim
                if n == 0:
                    _wait_at(export_gate)

        gated_claims.gated = True
        export837._Builder.claims = gated_claims


worker_ready.connect(_install_gates)  # the solo pool: tasks run in the worker's own process
worker_process_init.connect(_install_gates)  # a prefork pool's children
