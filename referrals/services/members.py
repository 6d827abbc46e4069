"""Members: found by CIN under the record-ownership rule, plan enrollments, corrections proposed
by the organizations that serve a member, and the audit of every view of personal data.

The rule, in one place: the plan a member is enrolled with owns the member's record. Only it
changes the demographics (``update_member``); a referral, form or file from anyone else never
writes to an existing member (``resolve_member``); a CBO that knows better proposes a correction
that the plan accepts or rejects (``propose_correction`` / ``decide_correction``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cbo_portal import access
from cbo_portal.choices import AuditAction, OrgKind, Role
from cbo_portal.models import County, Organization
from cbo_portal.services import audit
from cbo_portal.words import field_names
from referrals import rules
from referrals.choices import CorrectionStatus, CoverageSource, ReferralStatus
from referrals.models import Enrollment, Member, MemberCorrection, Referral
from referrals.services.common import (
    PLAN_REFERRERS,
    PROVIDER_WORKERS,
    actor_or_none,
    can_act_for_provider,
    require_plan_role,
)

MEMBER_FIELDS = [
    "first_name",
    "last_name",
    "dob",
    "sex",
    "phone",
    "street",
    "city",
    "state",
    "zip",
    "county",
    "preferred_language",
]


MEMBER_EDITORS = (*PLAN_REFERRERS, Role.PLAN_CONTRACT_MANAGER)


def _may_write_members(user) -> bool:
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


def _given(details: dict[str, Any]) -> dict[str, Any]:
    """The non-blank details, known fields only, the county resolved."""
    unknown = set(details) - set(MEMBER_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown member fields: {', '.join(sorted(unknown))}")
    given = {k: v for k, v in details.items() if v not in (None, "")}
    if "county" in given:
        given["county"] = resolve_county(given["county"])
    return given


def check_details(cin: str, details: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The CIN and the non-blank member details typed with it, checked as a whole record would be
    (a bad date of birth or CIN is refused here, before anything is written)."""
    given = _given(details)
    candidate = Member(cin=(cin or "").strip().upper(), **given)
    candidate.full_clean(validate_unique=False, validate_constraints=False)
    return candidate.cin, given


def as_submitted(details: dict[str, Any]) -> dict[str, str]:
    """Checked details as JSON for a referral's ``submitted_member``."""
    return {
        k: (v.name if isinstance(v, County) else v.isoformat() if isinstance(v, date) else str(v))
        for k, v in details.items()
    }


def plans_enrolled_on(member: Member, on: date) -> set[int]:
    """The plans whose enrollment of the member covers ``on``: the owners of the member's record."""
    return set(Enrollment.objects.filter(member=member).on(on).values_list("plan_id", flat=True))


def _record_new(*, acting_user, cin: str, details: dict[str, Any], organization: Organization) -> Member:
    member = Member(cin=cin, **details)
    member.full_clean(validate_unique=False, validate_constraints=False)
    member.save()
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=member,
        organization=organization,
        summary=f"Recorded member {member.cin}",
    )
    return member


@transaction.atomic
def resolve_member(
    *, acting_user, referrer: Organization, cin: str, details: dict[str, Any], on: date | None = None
) -> Member:
    """The member a referral (or a plan's record) names by CIN, under the record-ownership rule:

    - a CIN not on record: the member is recorded from the details;
    - a plan: naming the member asserts their enrollment from ``on`` (refused when another plan
      has them on that day), and as the owner its non-blank details update the record;
    - anyone else (a CBO's self/community referral): the record is never changed, and naming the
      CIN grants no access to it; the caller keeps the details on the referral for the plan.
    """
    if not _may_write_members(acting_user):
        raise PermissionDenied("Only plan care coordinators and CBO staff may record members.")
    cin, details = check_details(cin, details)
    member = Member.objects.select_for_update().filter(cin=cin).first()
    is_plan = referrer.kind == OrgKind.PLAN
    if member is None:
        member = _record_new(acting_user=acting_user, cin=cin, details=details, organization=referrer)
        if is_plan:
            ensure_enrolled(member, acting_user=acting_user, plan=referrer, on=on or timezone.localdate())
        return member
    if is_plan:
        ensure_enrolled(member, acting_user=acting_user, plan=referrer, on=on or timezone.localdate())
        return update_member(member, acting_user=acting_user, plan=referrer, **details)
    return member


@transaction.atomic
def update_member(member: Member, *, acting_user, plan: Organization, **fields: Any) -> Member:
    """The plan the member is enrolled with today changes their record (non-blank fields only);
    nobody else may. One audit row per member, under the plan, listed on the member's page for
    every organization that serves them."""
    require_plan_role(acting_user, plan, MEMBER_EDITORS, action="change member records")
    if plan.pk not in plans_enrolled_on(member, timezone.localdate()):
        raise PermissionDenied(f"Only the plan {member.cin} is enrolled with may change their record.")
    fields = _given(fields)
    member = Member.objects.select_for_update().get(pk=member.pk)
    before = {f: getattr(member, f) for f in MEMBER_FIELDS}
    for key, value in fields.items():
        setattr(member, key, value)
    member.full_clean(validate_unique=False, validate_constraints=False)
    if changes := audit.diff(member, before, MEMBER_FIELDS):
        member.save()
        audit.record(
            actor=acting_user,
            action=AuditAction.UPDATE,
            obj=member,
            organization=plan,
            summary=f"Updated member {member.cin}'s {field_names(Member, sorted(changes))}",
            changes=changes,
        )
    return member


COVERAGE_EDITORS = (Role.PLAN_ADMIN, Role.PLAN_CARE_COORDINATOR, Role.PLAN_CONTRACT_MANAGER)
ENROLLMENT_FIELDS = ("start_date", "end_date", "aid_code", "program")


def _span(start: date, end: date | None) -> str:
    return f"from {start:%b %-d, %Y}" + (f" to {end:%b %-d, %Y}" if end else ", open-ended")


def plan_reaches(plan_id: int, member_id: int) -> bool:
    """The plan has (or had) the member: a period of coverage, or a referral it made (not one
    still waiting for its review). Only such a plan records coverage for the member by hand."""
    return (
        Enrollment.objects.filter(plan_id=plan_id, member_id=member_id).exists()
        or Referral.objects.filter(plan_id=plan_id, member_id=member_id)
        .exclude(status=ReferralStatus.PENDING_REVIEW)
        .exists()
    )


def _check_period(enrollment: Enrollment) -> None:
    """A member has one plan on any day: the period may not overlap another of the member's
    periods, with this plan or any other. The member is locked first, so two plans saving at
    once cannot both pass; dates are plausible coverage dates (``rules.coverage_date_problem``)."""
    enrollment.full_clean(exclude=["member", "plan", "recorded_by"], validate_constraints=False)
    for field, label in (("start_date", "first covered day"), ("end_date", "last covered day")):
        day = getattr(enrollment, field)
        if day is not None and (problem := rules.coverage_date_problem(day, label)):
            raise ValidationError({field: problem})
    Member.objects.select_for_update().filter(pk=enrollment.member_id).first()
    clash = (
        Enrollment.objects.filter(member_id=enrollment.member_id)
        .exclude(pk=enrollment.pk)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=enrollment.start_date))
        .select_related("plan")
        .order_by("start_date")
    )
    if enrollment.end_date is not None:
        clash = clash.filter(start_date__lte=enrollment.end_date)
    other = clash.first()
    if other is None:
        return
    if other.plan_id == enrollment.plan_id:
        message = (
            f"This overlaps the member's coverage with your plan {_span(other.start_date, other.end_date)}; "
            "change or end that period instead."
        )
    else:
        message = (
            f"The member is covered by {other.plan} {_span(other.start_date, other.end_date)}; a member "
            "has one plan on any day. That plan must end its coverage first."
        )
    raise ValidationError({"start_date": message})


def coverage_plan(user, plan_id: int | None) -> Organization:
    """The plan through which ``user`` records coverage: ``plan_id`` if given, else their one plan
    with a coverage-editing role. Refused when they hold no such role there."""
    if plan_id is None:
        plans = sorted(
            m.organization_id
            for m in access.memberships(user)
            if m.organization.kind == OrgKind.PLAN and m.role in COVERAGE_EDITORS
        )
        if len(plans) != 1:
            raise ValidationError(
                {
                    "plan": "Name the plan whose coverage this is."
                    if plans
                    else "Only a plan records coverage."
                }
            )
        plan_id = plans[0]
    plan = Organization.objects.filter(pk=plan_id, kind=OrgKind.PLAN).first()
    if plan is None or not (access.is_platform_admin(user) or access.has_role(user, plan, COVERAGE_EDITORS)):
        raise PermissionDenied(
            "Only the plan's admins, care coordinators and contract managers record its coverage."
        )
    return plan


def coverage_plan_or_none(user, active: Organization | None) -> Organization | None:
    """On the member page: the plan the user acts for, if they may record its coverage."""
    if active is None or active.kind != OrgKind.PLAN:
        return None
    return active if access.has_role(user, active, COVERAGE_EDITORS) else None


@transaction.atomic
def record_enrollment(
    member: Member,
    *,
    acting_user,
    plan: Organization,
    start_date: date,
    end_date: date | None = None,
    aid_code: str = "",
    program: str = "",
    source: str = CoverageSource.PLAN,
) -> Enrollment:
    """Record the member's coverage with ``plan``. Only the plan's people may say who is covered
    by it, and by hand (``source`` plan) only a member it has (``plan_reaches``); the period may
    not overlap another (``_check_period``). Audited."""
    access.require_role(acting_user, plan, COVERAGE_EDITORS, action="record coverage")
    if source == CoverageSource.PLAN and not plan_reaches(plan.pk, member.pk):
        # By hand a plan covers only members it has: naming another's member must not open it.
        raise ValidationError({"member": "No member with this id that you may see."})
    enrollment = Enrollment(
        member=member,
        plan=plan,
        start_date=start_date,
        end_date=end_date,
        aid_code=aid_code.strip().upper(),
        program=program.strip(),
        source=source,
        recorded_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
    )
    _check_period(enrollment)
    enrollment.save()
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=enrollment,
        organization=plan,
        summary=f"Coverage of {member.cin} with {plan} {_span(start_date, end_date)}",
        changes={name: [None, audit.jsonable(getattr(enrollment, name))] for name in ENROLLMENT_FIELDS},
    )
    return enrollment


@transaction.atomic
def change_enrollment(enrollment: Enrollment, *, acting_user, **fields: Any) -> Enrollment:
    """The plan changes a period of its coverage (any of ``ENROLLMENT_FIELDS``); ending it is
    setting ``end_date``. Refused to anyone but the plan's people; audited with what changed."""
    enrollment = Enrollment.objects.select_for_update().select_related("member", "plan").get(pk=enrollment.pk)
    access.require_role(acting_user, enrollment.plan_id, COVERAGE_EDITORS, action="change coverage")
    unknown = set(fields) - set(ENROLLMENT_FIELDS)
    if unknown:
        raise ValidationError(f"Coverage has no field {', '.join(sorted(unknown))}.")
    before = {name: getattr(enrollment, name) for name in ENROLLMENT_FIELDS}
    for name, value in fields.items():
        if name == "aid_code":
            value = (value or "").strip().upper()
        elif name == "program":
            value = (value or "").strip()
        setattr(enrollment, name, value)
    _check_period(enrollment)
    if changes := audit.diff(enrollment, before, list(ENROLLMENT_FIELDS)):
        enrollment.source = CoverageSource.PLAN
        enrollment.recorded_by = acting_user
        enrollment.save()
        ended = "end_date" in changes and enrollment.end_date is not None
        audit.record(
            actor=acting_user,
            action=AuditAction.UPDATE,
            obj=enrollment,
            organization=enrollment.plan,
            summary=f"{'Ended' if ended else 'Changed'} coverage of {enrollment.member.cin} with "
            f"{enrollment.plan}: now {_span(enrollment.start_date, enrollment.end_date)}",
            changes=changes,
        )
    return enrollment


def end_enrollment(enrollment: Enrollment, *, acting_user, end_date: date) -> Enrollment:
    """The plan ends a period of coverage on ``end_date`` (the last covered day)."""
    return change_enrollment(enrollment, acting_user=acting_user, end_date=end_date)


def ensure_enrolled(member: Member, *, acting_user, plan: Organization, on: date) -> Enrollment | None:
    """A plan referring its member asserts the enrollment: record one from ``on`` unless a period
    already covers that day. A member another plan has on that day is that plan's: refused (so
    no plan opens another's member by naming a CIN)."""
    enrolled = plans_enrolled_on(member, on)
    if plan.pk in enrolled:
        return None
    if enrolled:
        raise ValidationError(
            {
                "cin": f"Member {member.cin} is enrolled with another plan on {on:%b %-d, %Y}; "
                "only that plan can refer them or change their record."
            }
        )
    return record_enrollment(
        member, acting_user=acting_user, plan=plan, start_date=on, source=CoverageSource.REFERRAL
    )


def cins_enrolled_elsewhere(plan_id: int, cins: Iterable[str], on: date) -> set[str]:
    """Of ``cins``, those another plan (and not ``plan_id``) has on ``on``: a bulk file of
    ``plan_id``'s may not name them (the same rule as ``ensure_enrolled``, for a batch of rows)."""
    enrollments = Enrollment.objects.on(on).filter(member__cin__in=list(cins))
    mine = set(enrollments.filter(plan_id=plan_id).values_list("member__cin", flat=True))
    return set(enrollments.exclude(plan_id=plan_id).values_list("member__cin", flat=True)) - mine


AUDIT_MEMBER_IDS = 5000


def record_view(*, acting_user, members: Iterable[Member | int], where: str) -> None:
    """Audit that ``acting_user`` saw these members' personal data (one row per page or record)."""
    ids = sorted({m if m is None or isinstance(m, int) else m.pk for m in members} - {None})
    if not ids:
        return
    audit.record(
        actor=acting_user,
        action=AuditAction.VIEW,
        object_type="referrals.Member",
        object_id=str(ids[0]) if len(ids) == 1 else "",
        summary=f"Viewed {len(ids)} member record(s): {where}",
        # Every member of a page or a file up to AUDIT_MEMBER_IDS; past that the count, and the
        # row's summary names the page or file the rest came from.
        changes={"member_ids": ids[:AUDIT_MEMBER_IDS], "member_count": len(ids)},
    )


CORRECTION_PROPOSERS = (*PROVIDER_WORKERS, Role.CBO_BILLING)


def serves(organization: Organization, member: Member) -> bool:
    """The CBO (or hub) has an open-to-it referral of the member: one the plan sent or accepted."""
    return (
        Referral.objects.filter(member=member)
        .filter(Q(cbo=organization) | Q(cbo__hub=organization))
        .exclude(status=ReferralStatus.PENDING_REVIEW)
        .exists()
    )


def editing_plan(user, member: Member) -> Organization | None:
    """The plan through which ``user`` may change the member's record: one the member is enrolled
    with today, where the user has an editing role."""
    for plan_id in sorted(plans_enrolled_on(member, timezone.localdate())):
        if access.has_role(user, plan_id, MEMBER_EDITORS):
            return Organization.objects.get(pk=plan_id)
    return None


def proposing_provider(user, member: Member, active: Organization | None) -> Organization | None:
    """The CBO or hub (the user's active one first) through which ``user`` may propose corrections."""
    candidates = [active] if active is not None else []
    candidates += [m.organization for m in access.memberships(user) if m.organization != active]
    for org in candidates:
        if (
            org.kind != OrgKind.PLAN
            and can_act_for_provider(user, org, CORRECTION_PROPOSERS)
            and serves(org, member)
        ):
            return org
    return None


@transaction.atomic
def propose_correction(
    member: Member, *, acting_user, organization: Organization, note: str = "", **fields: Any
) -> MemberCorrection:
    """A CBO that serves the member proposes changes to the record (a new phone, a moved address)
    for the member's plan to accept or reject. Nothing in the record changes until then."""
    if not can_act_for_provider(acting_user, organization, CORRECTION_PROPOSERS):
        raise PermissionDenied(f"Only the staff of {organization} may propose corrections for it.")
    if not serves(organization, member):
        raise PermissionDenied(f"{organization} does not serve member {member.cin}.")
    given = _given(fields)
    changes = {
        k: v for k, v in as_submitted(given).items() if as_submitted({k: getattr(member, k)}).get(k) != v
    }
    if not changes:
        raise ValidationError("Nothing you entered differs from the member's record.")
    trial = Member.objects.get(pk=member.pk)
    for key, value in given.items():
        setattr(trial, key, value)
    trial.full_clean(validate_unique=False, validate_constraints=False)
    correction = MemberCorrection.objects.create(
        member=member,
        organization=organization,
        proposed_by=actor_or_none(acting_user),
        changes=changes,
        note=(note or "").strip()[:300],
    )
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=correction,
        organization=organization,
        summary=f"Proposed a correction of member {member.cin}'s {correction.fields_named}",
        changes={"proposed": changes},
    )
    return correction


@transaction.atomic
def decide_correction(
    correction: MemberCorrection, *, acting_user, accept: bool, note: str = ""
) -> MemberCorrection:
    """The member's plan accepts a proposed correction (the record changes, audited) or rejects it
    with a reason. A correction is decided once."""
    correction = MemberCorrection.objects.select_for_update().select_related("member").get(pk=correction.pk)
    member = correction.member
    plan = editing_plan(acting_user, member)
    if plan is None:
        raise PermissionDenied(f"Only the plan {member.cin} is enrolled with may decide corrections.")
    if correction.status != CorrectionStatus.PENDING:
        raise ValidationError(f"This correction was already {correction.get_status_display().lower()}.")
    note = (note or "").strip()
    if not accept and not note:
        raise ValidationError({"note": "Say why the correction is rejected."})
    if accept:
        update_member(member, acting_user=acting_user, plan=plan, **correction.changes)
    correction.status = CorrectionStatus.ACCEPTED if accept else CorrectionStatus.REJECTED
    correction.decided_by, correction.decided_at = actor_or_none(acting_user), timezone.now()
    correction.decision_note = note[:300]
    correction.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit.record(
        actor=acting_user,
        action=AuditAction.UPDATE,
        obj=correction,
        organization=plan,
        summary=f"{plan} {correction.status} {correction.organization}'s correction of member {member.cin}",
        changes={"status": [CorrectionStatus.PENDING, correction.status]},
    )
    return correction


def record_changes(member: Member):
    """The audit rows of changes to the member's record, its coverage and proposed corrections,
    newest first: shown on the member's page to every organization that may see the member."""
    from cbo_portal.models import AuditEvent

    corrections = [str(pk) for pk in member.corrections.values_list("pk", flat=True)]
    periods = [str(pk) for pk in member.enrollments.values_list("pk", flat=True)]
    return (
        AuditEvent.objects.filter(
            Q(object_type=Member._meta.label, object_id=str(member.pk))
            | Q(object_type=MemberCorrection._meta.label, object_id__in=corrections)
            | Q(object_type=Enrollment._meta.label, object_id__in=periods)
        )
        .exclude(action=AuditAction.VIEW)
        .select_related("actor", "organization")
    )
