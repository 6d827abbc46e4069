"""Audit of the member data billing shows: claims carry a member's name, CIN and date of birth.

Every billing page, API answer, file and CSV that shows claims writes one VIEW row per request
naming the members (``referrals.services.members.record_view``), never one per claim or line.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from referrals.services import members as member_svc


def record_claims_view(
    *, acting_user, claims: QuerySet | Iterable, where: str, member_field: str = "member_id"
) -> None:
    """One VIEW audit row for the members of ``claims``.

    ``claims`` is what was shown: a page or list of objects (their ``member_field``, following
    ``__`` through relations, e.g. ``claim__member_id`` for a claim payment) or, for a whole file,
    a queryset whose members are read in one query of ids. Objects with no member (an unmatched
    claim payment) name nobody; when nobody is named no row is written."""
    if isinstance(claims, QuerySet):
        members = list(claims.order_by().values_list(member_field, flat=True).distinct())
    else:
        members = [_follow(obj, member_field) for obj in claims]
    member_svc.record_view(
        acting_user=acting_user, members=[m for m in members if m is not None], where=where
    )


def _follow(obj: object, path: str) -> int | None:
    for name in path.split("__"):
        if obj is None:
            return None
        obj = getattr(obj, name)
    return obj  # type: ignore[return-value]
