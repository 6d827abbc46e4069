"""Members: upsert by CIN, plan enrollments, and the audit of every view of personal data."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from cbo_portal import access
from cbo_portal.choices import AuditAction, Role
from cbo_portal.models import County, Organization
from cbo_portal.services import audit
from referrals.models import Enrollment, Member
from referrals.services.common import PLAN_REFERRERS, PROVIDER_WORKERS

MEMBER_FIELDS = [
    "first_name", "last_name", "dob", "sex", "phone", "street", "city", "state", "zip", "county",
    "preferred_language",
]  # fmt: skip


def _may_write_members(user) -> bool:  # noqa: ANN001
    roles = set(PLAN_REFERRERS) | set(PROVIDER_WORKERS) | {Role.PLATFORM_ADMIN}
    return access.is_platform_admin(user) or bool(access.org_ids_with_roles(user, roles))


def resolve_county(value: County | str | int | None) -> County | None:
    if value in (None, ""):
        return None
    if isinstance(value, County):
        return value
    text = str(value).strip()
    found = County.objects.filter(name__iexact=text.removesuffix(" County").removesuffix(" county")).first()
    found = found or County.objects.filter(fips=text.zfill(5) if text.isdigit() else text).first()
    if found is None:
        raise ValidationError({"county": f"“{text}” is not a California county."})
    return found


@transaction.atomic
def upsert_member(*, acting_user, cin: str, **fields: Any) -> Member:
    """Find the member by CIN or create them; non-blank fields given update the record.
    One record per CIN: the CIN never changes here."""
    if not _may_write_members(acting_user):
        raise PermissionDenied("Only plan care coordinators and CBO staff may record members.")
    unknown = set(fields) - set(MEMBER_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown member fields: {', '.join(sorted(unknown))}")
    if "county" in fields:
        fields["county"] = resolve_county(fields["county"])
    cin = (cin or "").strip().upper()
    member = Member.objects.select_for_update().filter(cin=cin).first()
    if member is None:
        member = Member(cin=cin, **{k: v for k, v in fields.items() if v not in (None, "")})
        member.full_clean(validate_unique=False, validate_constraints=False)
        member.save()
        audit.record(actor=acting_user, action=AuditAction.CREATE, obj=member,
                     summary=f"Recorded member {member.cin}")  # fmt: skip
        return member
    before = {f: getattr(member, f) for f in MEMBER_FIELDS}
    for key, value in fields.items():
        if value not in (None, ""):
            setattr(member, key, value)
    member.full_clean(validate_unique=False, validate_constraints=False)
    member.save()
    if changes := audit.diff(member, before, MEMBER_FIELDS):
        audit.record(actor=acting_user, action=AuditAction.UPDATE, obj=member,
                     summary=f"Updated member {member.cin}", changes=changes)  # fmt: skip
    return member


@transaction.atomic
def record_enrollment(
    member: Member, *, acting_user, plan: Organization, start_date: date, end_date: date | None = None
) -> Enrollment:
    """Record (or extend) the member's enrollment with ``plan``. Only the plan's people may say who
    is enrolled with it. An existing period starting the same day is updated."""
    access.require_role(acting_user, plan, (Role.PLAN_ADMIN, Role.PLAN_CARE_COORDINATOR,
                                            Role.PLAN_CONTRACT_MANAGER), action="record enrollments")  # fmt: skip
    enrollment, created = Enrollment.objects.get_or_create(
        member=member, plan=plan, start_date=start_date, defaults={"end_date": end_date}
    )
    if not created and enrollment.end_date != end_date:
        enrollment.end_date = end_date
    enrollment.full_clean(validate_constraints=False)
    enrollment.save()
    audit.record(
        actor=acting_user, action=AuditAction.CREATE if created else AuditAction.UPDATE, obj=enrollment,
        organization=plan, summary=f"Enrollment of {member.cin} with {plan} from {start_date}",
    )  # fmt: skip
    return enrollment


def ensure_enrolled(member: Member, *, acting_user, plan: Organization, on: date) -> Enrollment | None:
    """A plan referring its member asserts the enrollment: record one from ``on`` unless a period
    already covers that day."""
    if Enrollment.objects.filter(member=member, plan=plan).on(on).exists():
        return None
    return record_enrollment(member, acting_user=acting_user, plan=plan, start_date=on)


def record_view(*, acting_user, members: Iterable[Member | int], where: str) -> None:
    """Audit that ``acting_user`` saw these members' personal data (one row per page or record)."""
    ids = sorted({m if isinstance(m, int) else m.pk for m in members})
    if not ids:
        return
    audit.record(
        actor=acting_user, action=AuditAction.VIEW, object_type="referrals.Member",
        object_id=str(ids[0]) if len(ids) == 1 else "", summary=f"Viewed {len(ids)} member record(s): {where}",
        changes={"member_ids": ids[:500]},
    )  # fmt: skip
