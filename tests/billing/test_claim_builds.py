""" "Build claims" on the claims page runs on a Celery worker and shows its progress: each chunk's
claims and the counts on the page are committed together, so a worker killed mid-build loses
nothing, bills nothing twice, and the page's figures end equal to what was built."""

from __future__ import annotations

import os
import signal

import pytest
from django.conf import settings

from billing.choices import BuildStatus, ClaimStatus
from billing.models import Claim, ClaimBuild, ClaimLine
from billing.services.builds import run_build, start_build
from referrals.models import ServiceDelivery
from tests.billing.factories import delivery, new_member, setup_billing
from tests.billing.test_build_shards import _names, _ready
from tests.workers import on_workers, start_worker, wait_for


@pytest.fixture
def logged(world):
    """Six services of six members; the last one's member has no street address (held)."""
    setup_billing(world)
    made = [delivery(world, member=new_member(world)) for _ in range(5)]
    return [*made, delivery(world, member=new_member(world, street=""))]


def _billed_once(logged: list[ServiceDelivery]) -> None:
    for d in logged:
        assert ClaimLine.objects.filter(delivery=d, live=True).count() == 1


@pytest.mark.django_db
def test_the_page_builds_on_a_task_and_says_what_it_made(
    world, logged, client, django_capture_on_commit_callbacks
):
    client.force_login(world.cbo_billing)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/billing/claims/build/")
    build = ClaimBuild.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/billing/claims/builds/{build.pk}/"

    page = client.get(started["Location"]).content.decode()
    assert "Built 6 claims: 5 ready, 1 held" in page and "Fix held claims" in page
    assert client.get(f"/billing/claims/builds/{build.pk}/progress.json").json() == {
        "status": "done",
        "percent": 100,
        "finished": True,
        "text": f"Built 6 claims: 5 ready, 1 held (${build.billed_amount:,.2f}).",
    }
    build.refresh_from_db()
    assert (build.total, build.done, build.claims, build.ready, build.held) == (6, 6, 6, 5, 1)
    assert build.billed_amount == sum(c.billed_amount for c in Claim.objects.all())
    assert Claim.objects.filter(status=ClaimStatus.HELD).count() == 1
    _billed_once(logged)

    again = client.post("/billing/claims/build/", follow=True)
    assert b"There were no new services to bill." in again.content and ClaimBuild.objects.count() == 1


@pytest.mark.django_db
def test_asking_twice_while_a_build_waits_shows_the_same_build(world, logged):
    first = start_build(acting_user=world.cbo_billing)  # on_commit never fires here: it waits
    assert first.status == BuildStatus.QUEUED and first.total == 6
    assert start_build(acting_user=world.cbo_billing) == first
    assert run_build(first.pk).status == BuildStatus.DONE
    assert run_build(first.pk).claims == 6  # a finished build is left as it is
    assert Claim.objects.count() == 6


@pytest.mark.django_db
def test_only_billers_build_and_only_the_requester_sees_the_build(
    world, logged, client, django_capture_on_commit_callbacks
):
    client.force_login(world.cbo_staff)
    refused = client.post("/billing/claims/build/", follow=True)
    assert b"Only a billing coordinator or an admin of a CBO or hub may build claims." in refused.content
    assert ClaimBuild.objects.count() == 0 and Claim.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        build = start_build(acting_user=world.cbo_billing)
    for intruder in (world.cbo_staff, world.other_cbo_admin, world.plan_admin, world.hub_billing):
        client.force_login(intruder)
        assert client.get(f"/billing/claims/builds/{build.pk}/").status_code == 404
        assert client.get(f"/billing/claims/builds/{build.pk}/progress.json").status_code == 404


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")
@pytest.mark.django_db(transaction=True)  # the worker sees only committed rows
@pytest.mark.postgresql
def test_a_worker_killed_mid_build_loses_nothing_and_the_page_counts_each_claim_once(
    world, logged, client, tmp_path
):
    gate = tmp_path / "gate"
    gate.mkdir()
    # Chunks of two services; a task a dead worker held is handed out again after 3 s.
    env = {"BILLING_BUILD_CHUNK": "2", "CELERY_VISIBILITY_TIMEOUT": "3"}
    client.force_login(world.cbo_billing)
    with on_workers() as workers:
        doomed = start_worker("doomed", TEST_BUILD_GATE=str(gate), **env)
        workers.append(doomed)
        _ready(*_names("doomed"))

        page = client.post("/billing/claims/build/", follow=True)
        assert b"Building claims" in page.content and b'id="progress-card"' in page.content
        build = ClaimBuild.objects.get()
        progress = f"/billing/claims/builds/{build.pk}/progress.json"
        wait_for(lambda: (gate / "waiting").exists())  # its first chunk committed, more to come
        midway = client.get(progress).json()
        assert midway == {
            "status": "running",
            "percent": 33,
            "finished": False,
            "text": "2 of 6 services gone through: 2 claims built so far.",
        }
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(10)

        workers.append(start_worker("again", **env))
        wait_for(lambda: client.get(progress).json()["finished"], timeout=120)

    build.refresh_from_db()
    assert build.status == BuildStatus.DONE
    assert (
        (build.claims, build.ready, build.held)
        == (6, 5, 1)
        == (
            Claim.objects.count(),
            Claim.objects.filter(status=ClaimStatus.READY).count(),
            Claim.objects.filter(status=ClaimStatus.HELD).count(),
        )
    )
    _billed_once(logged)
    assert b"Built 6 claims: 5 ready, 1 held" in client.get(f"/billing/claims/builds/{build.pk}/").content
