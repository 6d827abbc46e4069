"""A contract's life: create and edit a draft, activate, terminate, expire; the signed document.

    draft ──activate──▶ active ──terminate──▶ terminated
                          └──(end date passes)──▶ expired

Only a plan's admins and contract managers (and platform admins) write contracts. Drafts are
edited freely; an active contract keeps its parties, number, dates and counties, and changes
rates only by amendment (services/rates.py). Every move is checked against TRANSITIONS under a
row lock, recorded as a status-history row and audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from cbo_portal import access
from cbo_portal.choices import AuditAction, Role
from cbo_portal.models import County, Organization
from cbo_portal.services import audit
from cbo_portal.statemachine import check_transition
from contracts.choices import ContractStatus
from contracts.models import IN_FORCE_STATUSES, Contract, ContractStatusChange, RateLine
from contracts.models.contracts import human_date

S = ContractStatus
TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.DRAFT: (S.ACTIVE,),
    S.ACTIVE: (S.EXPIRED, S.TERMINATED),
    S.EXPIRED: (),
    S.TERMINATED: (),
}
CONTRACT_ROLES = (Role.PLAN_ADMIN, Role.PLAN_CONTRACT_MANAGER)

# Fields a contract manager may change while a contract is a draft; ADMIN_FIELDS also afterwards
# (contacts and the plan's claim-submission settings change without an amendment).
ADMIN_FIELDS = [
    "title",
    "plan_contact_name",
    "plan_contact_email",
    "plan_contact_phone",
    "cbo_contact_name",
    "cbo_contact_email",
    "cbo_contact_phone",
    "payer_id",
    "receiver_id",
    "submitter_id",
    "claim_format",
    "timely_filing_days",
    "payment_terms_days",
]
DRAFT_FIELDS = ["number", "start_date", "end_date", "not_to_exceed", *ADMIN_FIELDS]
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


def require_contract_manager(user, plan: Organization | int, action: str) -> None:
    access.require_role(user, plan, CONTRACT_ROLES, action=action)


def check_provider_approved(cbo: Organization) -> None:
    """Only CBOs and hubs that passed onboarding can be contracted."""
    if not Organization.objects.approved_providers().filter(pk=cbo.pk).exists():
        raise ValidationError(
            {
                "cbo": f"{cbo} is not an approved provider ({cbo.get_onboarding_status_display().lower()}); "
                "only CBOs and hubs that passed onboarding can be contracted."
            }
        )


def check_no_overlap(contract: Contract, service_ids: Iterable[int] | None = None) -> None:
    """Reject when another active (or once active) contract for the same plan and provider covers
    one of these services in an overlapping period. The message names the conflicting contract."""
    if service_ids is None:
        service_ids = contract.rate_lines.values_list("service_id", flat=True)
    wanted = set(service_ids)
    if not wanted:
        return
    others = (
        Contract.objects.filter(
            plan_id=contract.plan_id, cbo_id=contract.cbo_id, status__in=IN_FORCE_STATUSES
        )
        .exclude(pk=contract.pk)
        .prefetch_related(
            Prefetch("rate_lines", RateLine.objects.filter(service_id__in=wanted).select_related("service"))
        )
    )
    for other in others:
        if not other.overlaps(contract.start_date, contract.last_covered_day):
            continue
        common = [line.service for line in other.rate_lines.all()]
        if common:
            labels = ", ".join(s.display for s in common)
            last = other.last_covered_day
            period = f"{human_date(other.start_date)} to {human_date(last) if last else 'open-ended'}"
            raise ValidationError(
                f"Overlaps contract {other.number} ({other.get_status_display().lower()}, {period}), which "
                f"already covers {labels} for {contract.cbo} with {contract.plan}."
            )


def _resolve_counties(counties: Iterable[County | str | int]) -> list[County]:
    """Counties given as objects, primary keys, names or FIPS codes."""
    resolved: list[County] = []
    for county in counties:
        if isinstance(county, County):
            resolved.append(county)
            continue
        if isinstance(county, int):
            found = County.objects.filter(pk=county).first()
        else:
            text = str(county).strip()
            found = County.objects.filter(name__iexact=text.removesuffix(" County")).first() or (
                County.objects.filter(fips=text).first()
            )
        if found is None:
            raise ValidationError({"counties": f"“{county}” is not a California county."})
        resolved.append(found)
    return resolved


def _record_status(
    contract: Contract, from_status: str, to_status: str, *, acting_user, comment: str = ""
) -> None:
    ContractStatusChange.objects.create(
        contract=contract,
        from_status=from_status,
        to_status=to_status,
        actor=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        comment=comment,
    )


@transaction.atomic
def create_contract(
    *,
    acting_user,
    plan: Organization,
    cbo: Organization,
    number: str,
    start_date: date,
    end_date: date | None = None,
    counties: Iterable[County | str | int] = (),
    **fields: Any,
) -> Contract:
    """Start a draft contract between ``plan`` and an approved CBO or hub. The payer id defaults to
    the plan's; the number must be new for the plan."""
    require_contract_manager(acting_user, plan, "create contracts")
    unknown = set(fields) - set(DRAFT_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown contract fields: {', '.join(sorted(unknown))}")
    contract = Contract(
        plan=plan,
        cbo=cbo,
        number=(number or "").strip(),
        start_date=start_date,
        end_date=end_date,
        created_by=acting_user,
        **fields,
    )
    if not contract.payer_id:
        contract.payer_id = plan.payer_id
    contract.full_clean(validate_constraints=False)
    check_provider_approved(cbo)
    if existing := Contract.objects.filter(plan=plan, number__iexact=contract.number).first():
        raise ValidationError({"number": f"{plan} already has a contract numbered {existing.number}."})
    resolved = _resolve_counties(counties)
    contract.save()
    contract.counties.set(resolved)
    _record_status(contract, "", S.DRAFT, acting_user=acting_user, comment="Created")
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=contract,
        organization=plan,
        summary=f"Created draft contract {contract.number} with {cbo}",
    )
    return contract


@transaction.atomic
def update_contract(
    contract: Contract,
    *,
    acting_user,
    changes: dict[str, Any],
    counties: Iterable[County | str | int] | None = None,
) -> Contract:
    """Edit a contract. Drafts: anything but the parties. Active contracts: contacts and claim
    settings only (rates change by amendment, the end by termination)."""
    require_contract_manager(acting_user, contract.plan_id, "edit contracts")
    contract = Contract.objects.select_for_update().select_related("plan", "cbo").get(pk=contract.pk)
    allowed = DRAFT_FIELDS if contract.is_editable else ADMIN_FIELDS
    locked = set(changes) - set(allowed)
    if counties is not None and not contract.is_editable:
        locked.add("counties")
    if locked:
        raise ValidationError(
            f"A {contract.get_status_display().lower()} contract's {', '.join(sorted(locked))} cannot be "
            "changed; amend its rates or terminate it instead."
        )
    before = {f: getattr(contract, f) for f in DRAFT_FIELDS}
    before_counties = sorted(contract.counties.values_list("name", flat=True))
    for field, value in changes.items():
        setattr(contract, field, value.strip() if isinstance(value, str) else value)
    contract.full_clean(validate_constraints=False)
    clash = Contract.objects.filter(plan_id=contract.plan_id, number__iexact=contract.number).exclude(
        pk=contract.pk
    )
    if "number" in changes and (existing := clash.first()):
        raise ValidationError(
            {"number": f"{contract.plan} already has a contract numbered {existing.number}."}
        )
    contract.save()
    diff = audit.diff(contract, before, DRAFT_FIELDS)
    if counties is not None:
        resolved = _resolve_counties(counties)
        contract.counties.set(resolved)
        after = sorted(c.name for c in resolved)
        if after != before_counties:
            diff["counties"] = [before_counties, after]
    if diff:
        audit.record(
            actor=acting_user,
            action=AuditAction.UPDATE,
            obj=contract,
            organization=contract.plan,
            summary=f"Edited contract {contract.number}",
            changes=diff,
        )
    return contract


def _transition(contract: Contract, target: str, *, acting_user, comment: str = "") -> tuple[Contract, str]:
    """Lock the contract, check the move against TRANSITIONS and record it. Returns the locked row
    (with its new status set but not yet saved) and the previous status."""
    locked = Contract.objects.select_for_update().select_related("plan", "cbo").get(pk=contract.pk)
    check_transition(TRANSITIONS, "contract", locked.status, target)
    previous = locked.status
    locked.status = target
    _record_status(locked, previous, target, acting_user=acting_user, comment=comment)
    return locked, previous


@transaction.atomic
def activate(contract: Contract, *, acting_user, comment: str = "") -> Contract:
    """Put a draft in force: it needs at least one rate line and one county, an approved provider,
    and no overlap with another contract for the same plan, provider and service."""
    require_contract_manager(acting_user, contract.plan_id, "activate contracts")
    contract, previous = _transition(contract, S.ACTIVE, acting_user=acting_user, comment=comment)
    problems = []
    if not contract.rate_lines.exists():
        problems.append("Add at least one rate line before activating.")
    if not contract.counties.exists():
        problems.append("Choose the counties the contract covers before activating.")
    if problems:
        raise ValidationError(problems)
    check_provider_approved(contract.cbo)
    check_no_overlap(contract)
    contract.activated_at = timezone.now()
    contract.save(update_fields=["status", "activated_at", "updated_at"])
    audit.record(
        actor=acting_user,
        action=AuditAction.TRANSITION,
        obj=contract,
        organization=contract.plan,
        summary=f"Activated contract {contract.number}",
        changes={"status": [previous, S.ACTIVE]},
    )
    return contract


@transaction.atomic
def terminate(contract: Contract, *, acting_user, termination_date: date, reason: str) -> Contract:
    """End an active contract early: services on or after ``termination_date`` are not covered.
    A reason is required; the date must fall within the contract's period."""
    require_contract_manager(acting_user, contract.plan_id, "terminate contracts")
    reason = (reason or "").strip()
    contract, previous = _transition(contract, S.TERMINATED, acting_user=acting_user, comment=reason)
    errors: dict[str, str] = {}
    if not reason:
        errors["termination_reason"] = "Say why the contract is terminated."
    if termination_date < contract.start_date:
        errors["termination_date"] = (
            f"The contract starts on {human_date(contract.start_date)}; it cannot end before that."
        )
    elif contract.end_date and termination_date > contract.end_date:
        errors["termination_date"] = (
            f"The contract ends on {human_date(contract.end_date)} anyway; terminate on or before that date."
        )
    if errors:
        raise ValidationError(errors)
    contract.termination_date = termination_date
    contract.termination_reason = reason
    contract.save(update_fields=["status", "termination_date", "termination_reason", "updated_at"])
    audit.record(
        actor=acting_user,
        action=AuditAction.TRANSITION,
        obj=contract,
        organization=contract.plan,
        summary=f"Terminated contract {contract.number} effective {human_date(termination_date)}",
        changes={"status": [previous, S.TERMINATED], "termination_date": [None, str(termination_date)]},
    )
    return contract


@transaction.atomic
def expire_ended(*, today: date | None = None) -> list[Contract]:
    """Mark active contracts whose end date has passed as expired (run daily by a task)."""
    today = today or timezone.localdate()
    expired = []
    for pk in Contract.objects.filter(status=S.ACTIVE, end_date__lt=today).values_list("pk", flat=True):
        contract = Contract(pk=pk)
        contract, previous = _transition(contract, S.EXPIRED, acting_user=None, comment="End date passed")
        contract.save(update_fields=["status", "updated_at"])
        audit.record(
            actor=None,
            action=AuditAction.TRANSITION,
            obj=contract,
            organization=contract.plan,
            summary=f"Contract {contract.number} expired after {human_date(contract.end_date)}",
            changes={"status": [previous, S.EXPIRED]},
        )
        expired.append(contract)
    return expired


@transaction.atomic
def upload_signed_document(contract: Contract, *, acting_user, upload: UploadedFile) -> Contract:
    """Attach the signed contract (PDF, at most 20 MB). A new upload replaces the link to the old one;
    the old file stays in storage for the record."""
    require_contract_manager(acting_user, contract.plan_id, "upload signed contracts")
    contract = Contract.objects.select_for_update().select_related("plan").get(pk=contract.pk)
    if upload.size and upload.size > MAX_DOCUMENT_BYTES:
        raise ValidationError({"signed_document": "The signed contract must be 20 MB or smaller."})
    head = upload.read(5)
    upload.seek(0)
    if head != b"%PDF-":
        raise ValidationError({"signed_document": "Upload the signed contract as a PDF."})
    contract.signed_document.save(upload.name or "contract.pdf", upload, save=False)
    contract.signed_document_name = (upload.name or "contract.pdf")[:255]
    contract.save(update_fields=["signed_document", "signed_document_name", "updated_at"])
    audit.record(
        actor=acting_user,
        action=AuditAction.UPDATE,
        obj=contract,
        organization=contract.plan,
        summary=f"Uploaded the signed copy of contract {contract.number}",
    )
    return contract
