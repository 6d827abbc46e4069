"""Members' consents (ECM enrollment, data sharing / release of information, consent to a
service): who records them, and what a revocation stops.

Rules:

* A consent is recorded by an organization serving the member: a CBO (or its hub) with a
  referral of the member, through its admins and staff; or a plan the member is covered by, or
  referred by, through its coverage editors. Whoever may see the member sees their consents.
* Each record says given, refused or revoked, as of a day, how (verbal, written, e-signature),
  who recorded it and, optionally, the signed paper (the onboarding documents' upload rule).
  Records are never changed: the member's consent of a kind on a day is the latest record made
  on or before it (``consent_on``).
* A contract's rate line may require a consent (``RateLineVersion.consent_required``): logging
  that service for a day without the consent given is refused, saying why
  (``referrals.services.deliveries``). A revocation stops new services from its day on; the
  member's open referrals show it.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from cbo_portal import access
from cbo_portal.choices import AuditAction, OrgKind
from cbo_portal.models import Organization
from cbo_portal.services import audit
from cbo_portal.services.onboarding import check_document
from contracts.choices import ConsentKind
from referrals.choices import OPEN_STATUSES, ConsentMethod, ConsentStatus
from referrals.models import Consent, Member, Referral
from referrals.services.common import PROVIDER_WORKERS, can_act_for_provider
from referrals.services.members import COVERAGE_EDITORS, serves


def consent_on(member: Member | int, kind: str, on: date) -> Consent | None:
    """The member's consent of ``kind`` as of ``on``: the latest record made on or before it."""
    member_id = member if isinstance(member, int) else member.pk
    return (
        Consent.objects.filter(member_id=member_id, kind=kind, on__lte=on)
        .order_by("-on", "-created_at", "-pk")
        .first()
    )


def consent_problem(member: Member | int, kind: str, on: date) -> str | None:
    """Why a service that needs ``kind`` cannot be given on ``on`` (None when it can)."""
    consent = consent_on(member, kind, on)
    label = ConsentKind(kind).label
    if consent is None:
        return f"This service needs the member's {label} consent, and none is on file for {on:%b %-d, %Y}. Record it on the member's page first."
    if consent.status != ConsentStatus.GIVEN:
        return (
            f"This service needs the member's {label} consent, and the member {consent.get_status_display().lower()} "
            f"it on {consent.on:%b %-d, %Y}. No new services can be logged until it is given again."
        )
    return None


def recording_organization(user, member: Member, active: Organization | None) -> Organization | None:
    """The organization (the user's active one first) through which ``user`` may record the
    member's consents: a provider serving the member, or a plan the member is visible to."""
    candidates = [active] if active is not None else []
    candidates += [m.organization for m in access.memberships(user) if m.organization != active]
    for org in candidates:
        if org.kind == OrgKind.PLAN:
            if (
                access.has_role(user, org, COVERAGE_EDITORS)
                and Member.objects.visible_to(user).filter(pk=member.pk).exists()
            ):
                return org
        elif can_act_for_provider(user, org, PROVIDER_WORKERS) and serves(org, member):
            return org
    return None


@transaction.atomic
def record_consent(
    member: Member,
    *,
    acting_user,
    organization: Organization | None,
    kind: str,
    status: str,
    on: date,
    method: str,
    note: str = "",
    document: UploadedFile | None = None,
) -> Consent:
    """Record one consent statement for the member (see the module's rules). Audited."""
    if organization is None or recording_organization(acting_user, member, organization) != organization:
        raise PermissionDenied("Only an organization serving this member may record their consents.")
    problems = {}
    if kind not in ConsentKind.values:
        problems["kind"] = f"Unknown consent {kind!r}; one of {', '.join(ConsentKind.values)}."
    if status not in ConsentStatus.values:
        problems["status"] = f"Unknown status {status!r}; one of {', '.join(ConsentStatus.values)}."
    if method not in ConsentMethod.values:
        problems["method"] = f"Unknown method {method!r}; one of {', '.join(ConsentMethod.values)}."
    if problems:
        raise ValidationError(problems)
    consent = Consent(
        member=member,
        kind=kind,
        status=status,
        on=on,
        method=method,
        note=note.strip()[:300],
        organization=organization,
        recorded_by=acting_user,
    )
    if document is not None:
        consent.content_type = check_document(document)
        consent.document_name = (document.name or "consent")[:255]
        consent.document = document
    consent.full_clean(exclude=["member", "organization", "recorded_by", "document"])
    consent.save()
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=consent,
        organization=organization,
        summary=f"{consent.get_kind_display()} consent {consent.get_status_display().lower()} on "
        f"{on:%b %-d, %Y} ({consent.get_method_display().lower()}) for {member.cin}",
    )
    return consent


def revoked(member: Member, *, on: date) -> list[Consent]:
    """The member's consents that stand revoked or refused on ``on``, one per kind: what the
    member's open referrals warn about."""
    out = []
    for kind in ConsentKind.values:
        consent = consent_on(member, kind, on)
        if consent is not None and consent.status != ConsentStatus.GIVEN:
            out.append(consent)
    return out


def open_referrals(member: Member):
    """The member's referrals still open (what a revocation flags)."""
    return Referral.objects.filter(member=member, status__in=OPEN_STATUSES)
