""" "Build claims" from the claims page, on a Celery worker, with its progress on a page.

Rules:
* Whoever may build claims (``claims.require_builder``) may start a build of every service they
  may bill; while one of theirs is waiting or running, asking again shows that one.
* The build itself is ``claims.build_claims``: chunk by chunk, each chunk's claims and the
  build's counts committed together, so the progress never counts what was not billed.
* Queued → running → done | failed. A worker that dies mid-build has its task redelivered
  (running → running) and the build goes on with what is still billable; nothing is billed twice.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.choices import BuildStatus
from billing.models import ClaimBuild
from billing.services.claims import BuildResult, billable_deliveries, build_claims, require_builder
from cbo_portal.statemachine import check_transition

S = BuildStatus
BUILD_TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.QUEUED: (S.RUNNING, S.FAILED),
    S.RUNNING: (S.RUNNING, S.DONE, S.FAILED),  # running again: redelivered after a worker died
    S.DONE: (),
    S.FAILED: (),
}
UNFINISHED = (S.QUEUED, S.RUNNING)


def start_build(*, acting_user) -> ClaimBuild | None:
    """Queue a build of every service ``acting_user`` may bill and return it; their unfinished
    build if they have one; None when there is nothing to bill."""
    require_builder(acting_user)
    unfinished = ClaimBuild.objects.filter(requested_by=acting_user, status__in=UNFINISHED).first()
    if unfinished is not None:
        return unfinished
    total = billable_deliveries(acting_user).count()
    if not total:
        return None
    build = ClaimBuild.objects.create(requested_by=acting_user, total=total)
    from billing.tasks import run_claim_build

    transaction.on_commit(lambda: run_claim_build.delay(build.pk))
    return build


def _move(build: ClaimBuild, to: str, **fields: object) -> ClaimBuild:
    check_transition(BUILD_TRANSITIONS, "claim build", build.status, to)
    build.status = to
    for name, value in fields.items():
        setattr(build, name, value)
    build.save(update_fields=["status", *fields])
    return build


def run_build(build_id: int) -> ClaimBuild:
    """Do the build (the task's body). A finished build is left as it is."""
    build = ClaimBuild.objects.select_related("requested_by").get(pk=build_id)
    if build.status not in UNFINISHED:
        return build
    _move(build, S.RUNNING)

    def count_chunk(made: BuildResult, services: int) -> None:
        ClaimBuild.objects.filter(pk=build.pk).update(
            done=F("done") + services,
            claims=F("claims") + made.claims,
            ready=F("ready") + made.ready,
            held=F("held") + made.held,
            billed_amount=F("billed_amount") + made.billed_amount,
        )

    try:
        result = build_claims(
            acting_user=build.requested_by,
            keep_ids=False,
            on_chunk=count_chunk,
            chunk_size=settings.BILLING_BUILD_CHUNK,
        )
    except (PermissionDenied, ValidationError) as error:
        message = " ".join(getattr(error, "messages", None) or [str(error)])
        return _move(build, S.FAILED, error=message, finished_at=timezone.now())
    build.refresh_from_db(fields=["done", "claims", "ready", "held", "billed_amount"])
    return _move(build, S.DONE, skipped=result.skipped, finished_at=timezone.now())
