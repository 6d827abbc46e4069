"""The Celery app really runs on Redis: a worker process picks up a task and returns its result."""

import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings

from cbo_portal.celery import app


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")
def test_worker_on_redis_runs_a_task_with_late_acks_and_json():
    assert (
        app.conf.task_acks_late and app.conf.task_serializer == "json" and app.conf.accept_content == ["json"]
    )
    queue = f"test-{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "cbo_portal",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--loglevel=WARNING",
        ],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "cbo_portal.settings"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        from cbo_portal.tasks import send_email

        result = send_email.apply_async(args=[["a@example.org"], "Hello", "Body"], queue=queue)
        assert result.get(timeout=30) == 1
    finally:
        app.conf.task_always_eager = eager
        worker.terminate()
        worker.wait(timeout=10)
