"""Real Celery workers for tests: separate processes on the test's Redis and PostgreSQL database,
started the way a deployment starts them, on a queue of the test's own."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import connection

from cbo_portal.celery import app


def worker_env(**extra: str) -> dict[str, str]:
    """The environment of a worker process: this test's database, media folder and queue."""
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cbo_portal.settings",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_QUEUE": app.conf.task_default_queue,
        **extra,
    }


def start_worker(name: str, **env: str) -> subprocess.Popen:
    """One worker process (solo pool: it runs each task in itself) named ``name``."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.worker_app",
            "worker",
            "--pool=solo",
            "-n",
            f"{name}@%h",
            "-Q",
            app.conf.task_default_queue,
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        env=worker_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def on_workers() -> Iterator[list[subprocess.Popen]]:
    """Send tasks to real workers (not eagerly) on a queue of this test's own; the workers the
    test puts in the yielded list are stopped at the end."""
    eager, queue = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager = False
    app.conf.task_default_queue = f"test-{uuid.uuid4().hex[:8]}"
    workers: list[subprocess.Popen] = []
    try:
        yield workers
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = eager, queue
        for proc in workers:
            if proc.poll() is None:
                proc.terminate()
        for proc in workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def wait_for(predicate: Callable[[], object], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)
