"""Home tiles for referrals: awaiting a response, overdue, authorizations running out (CBOs);
overdue referrals and requests to decide (plans)."""

from __future__ import annotations

from collections.abc import Iterator

from django.http import HttpRequest
from django.urls import reverse

from cbo_portal.dashboard import Tile


def referral_tiles(request: HttpRequest) -> Iterator[Tile]:
    from cbo_portal.pagination import bounded_count
    from referrals import selectors
    from referrals.choices import AuthorizationStatus
    from referrals.models import Authorization, Referral

    org = getattr(request, "org", None)
    if org is None:
        return
    if org.kind in ("cbo", "hub"):
        if org.onboarding_status != "approved":
            return  # no referrals or services until approved: the onboarding tile says what is next
        work = selectors.cbo_worklist(request.user, org)
        awaiting, capped = bounded_count(work.awaiting)
        yield Tile(
            f"{awaiting:,}{'+' if capped else ''}",
            f"Referral{'s' if awaiting != 1 else ''} awaiting your response",
            reverse("referrals:worklist"),
            "Open the worklist",
            "warn" if work.overdue_count else "",
        )
        if work.overdue_count:
            yield Tile(
                str(work.overdue_count),
                "Past the response deadline",
                reverse("referrals:list") + "?status=overdue",
                "Respond now",
                "warn",
            )
        running, capped = bounded_count(work.running_out)
        if running:
            yield Tile(
                f"{running:,}{'+' if capped else ''}",
                "Authorizations expiring or nearly used up",
                reverse("referrals:worklist"),
                "Ask for extensions",
                "warn",
            )
    elif org.kind == "plan":
        referrals = Referral.objects.visible_to(request.user).filter(plan=org)
        overdue = referrals.overdue().count()
        yield Tile(
            str(overdue),
            "Referrals past the CBO's response deadline",
            reverse("referrals:list") + "?status=overdue",
            "See them",
            "warn" if overdue else "",
        )
        requests = (
            Authorization.objects.visible_to(request.user)
            .filter(plan=org, status=AuthorizationStatus.REQUESTED)
            .count()
        )
        if requests:
            yield Tile(
                str(requests),
                "Authorization requests to decide",
                reverse("referrals:authorizations") + "?status=requested",
                "Decide",
                "warn",
            )
