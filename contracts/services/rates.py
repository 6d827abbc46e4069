"""Rate schedules: rate lines on drafts, and amendments to active contracts.

A rate line's terms live in dated versions. On a draft there is one version per line, from the
contract's effective date, edited in place. Once the contract is active its terms change only by
amendment, which appends versions from the amendment's effective date: the terms on any past
date stay answerable and claims already priced keep their price.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from cbo_portal.choices import AuditAction
from cbo_portal.services import audit
from contracts.choices import ContractStatus
from contracts.models import (
    TERM_FIELDS,
    Contract,
    ContractAmendment,
    RateLine,
    RateLineVersion,
    ServiceCatalogEntry,
)
from contracts.models.contracts import human_date
from contracts.services.contracts import check_no_overlap, require_contract_manager


@dataclass
class RateChange:
    """One service's new terms in an amendment. ``terms`` holds only what changes (a cap set to
    None is removed); a service not yet on the contract is added with catalog defaults."""

    service: ServiceCatalogEntry
    terms: dict[str, Any] = field(default_factory=dict)


def catalog_defaults(service: ServiceCatalogEntry) -> dict[str, Any]:
    """The terms a new rate line starts from (everything but the rate)."""
    return {
        "unit": service.default_unit,
        "authorization": service.default_authorization,
        "units_per_authorization": service.default_units_per_authorization,
        "units_per_day": service.default_units_per_day,
        "units_per_week": service.default_units_per_week,
        "units_per_month": service.default_units_per_month,
        "units_per_year": service.default_units_per_year,
        "lifetime_dollar_cap": service.default_lifetime_dollar_cap,
        "consent_required": "",
    }


def _check_terms(terms: dict[str, Any]) -> None:
    unknown = set(terms) - set(TERM_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown rate terms: {', '.join(sorted(unknown))}")
    rate = terms.get("rate")
    if isinstance(rate, float):
        terms["rate"] = Decimal(str(rate))
    elif isinstance(rate, str):
        try:
            terms["rate"] = Decimal(rate.strip().lstrip("$").replace(",", ""))
        except InvalidOperation as exc:
            raise ValidationError({"rate": f"“{rate}” is not an amount of dollars."}) from exc


def _validated_version(version: RateLineVersion) -> RateLineVersion:
    version.full_clean(exclude=["rate_line", "created_by", "amendment"], validate_constraints=False)
    return version


def _check_service_in_catalog(contract: Contract, service: ServiceCatalogEntry, start: date) -> None:
    last = contract.last_covered_day
    if service.effective_to and service.effective_to < start:
        raise ValidationError(
            {"service": f"{service.display} was retired after {human_date(service.effective_to)}."}
        )
    if last and service.effective_from > last:
        raise ValidationError(
            {
                "service": f"{service.display} is in use only from {human_date(service.effective_from)}, "
                f"after this contract ends."
            }
        )


def _line_label(line: RateLine) -> str:
    return f"{line.service.display}"


@transaction.atomic
def add_rate_line(
    contract: Contract, *, acting_user, service: ServiceCatalogEntry, rate: Decimal | str, **terms: Any
) -> RateLine:
    """Add a covered service to a draft, with terms defaulting to the catalog's. One line per
    service; the rate must be more than zero; a service another contract already covers for the
    same plan and provider in an overlapping period is refused."""
    require_contract_manager(acting_user, contract.plan_id, "change rate schedules")
    contract = Contract.objects.select_for_update().select_related("plan", "cbo").get(pk=contract.pk)
    if not contract.is_editable:
        raise ValidationError(
            f"Contract {contract.number} is {contract.get_status_display().lower()}; add services by amendment."
        )
    terms = {**catalog_defaults(service), **{k: v for k, v in terms.items() if v is not None}, "rate": rate}
    _check_terms(terms)
    if contract.rate_lines.filter(service=service).exists():
        raise ValidationError({"service": f"{service.display} is already on this contract."})
    _check_service_in_catalog(contract, service, contract.start_date)
    version = _validated_version(RateLineVersion(effective_from=contract.start_date, **terms))
    check_no_overlap(contract, [service.pk])
    line = RateLine.objects.create(contract=contract, service=service, created_by=acting_user)
    version.rate_line = line
    version.created_by = acting_user
    version.save()
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=line,
        organization=contract.plan,
        summary=f"Added {_line_label(line)} at ${version.rate} per {version.get_unit_display().lower()} "
        f"to contract {contract.number}",
    )
    return line


@transaction.atomic
def update_rate_line(line: RateLine, *, acting_user, **terms: Any) -> RateLine:
    """Change a draft's rate line terms in place (a draft has no history to keep)."""
    require_contract_manager(acting_user, line.contract.plan_id, "change rate schedules")
    line = RateLine.objects.select_for_update().select_related("contract__plan", "service").get(pk=line.pk)
    if not line.contract.is_editable:
        raise ValidationError(
            f"Contract {line.contract.number} is {line.contract.get_status_display().lower()}; "
            "change its rates by amendment."
        )
    _check_terms(terms)
    version = line.versions.get()
    before = version.terms()
    for name, value in terms.items():
        setattr(version, name, value)
    _validated_version(version)
    version.save()
    changes = {
        k: [str(before[k]) if before[k] is not None else None, str(v) if v is not None else None]
        for k, v in version.terms().items()
        if before[k] != v
    }
    if changes:
        audit.record(
            actor=acting_user,
            action=AuditAction.UPDATE,
            obj=line,
            organization=line.contract.plan,
            summary=f"Edited {_line_label(line)} on contract {line.contract.number}",
            changes=changes,
        )
    return line


@transaction.atomic
def remove_rate_line(line: RateLine, *, acting_user) -> None:
    """Take a service off a draft. Lines of an active contract stay (history refers to them)."""
    require_contract_manager(acting_user, line.contract.plan_id, "change rate schedules")
    line = RateLine.objects.select_for_update().select_related("contract__plan", "service").get(pk=line.pk)
    if not line.contract.is_editable:
        raise ValidationError(
            f"Contract {line.contract.number} is {line.contract.get_status_display().lower()}; its services "
            "stay on record. End one by terminating the contract."
        )
    audit.record(
        actor=acting_user,
        action=AuditAction.DELETE,
        obj=line,
        organization=line.contract.plan,
        summary=f"Removed {_line_label(line)} from contract {line.contract.number}",
    )
    line.delete()


@transaction.atomic
def amend(
    contract: Contract,
    *,
    acting_user,
    effective_from: date,
    reason: str,
    changes: Sequence[RateChange],
) -> ContractAmendment:
    """Change rates or caps of an active contract from ``effective_from`` on (or add services).

    The date falls after the contract's effective date and within its period; a service may get
    only one set of terms per day; the amendment must change something. Earlier terms stay.
    """
    require_contract_manager(acting_user, contract.plan_id, "amend contracts")
    contract = Contract.objects.select_for_update().select_related("plan", "cbo").get(pk=contract.pk)
    if contract.status != ContractStatus.ACTIVE:
        raise ValidationError(
            f"Only an active contract can be amended; {contract.number} is "
            f"{contract.get_status_display().lower()}."
        )
    errors: dict[str, str] = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = "Say what the amendment is for."
    last = contract.last_covered_day
    if effective_from <= contract.start_date:
        errors["effective_from"] = (
            f"An amendment takes effect after the contract's effective date ({human_date(contract.start_date)}); "
            "to change the original terms, terminate and re-contract."
        )
    elif last and effective_from > last:
        errors["effective_from"] = f"The contract's last covered day is {human_date(last)}."
    if not changes:
        errors["changes"] = "The amendment changes no rate."
    if errors:
        raise ValidationError(errors)

    lines = {
        line.service_id: line
        for line in contract.rate_lines.select_related("service").prefetch_related("versions")
    }
    number = (contract.amendments.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    amendment = ContractAmendment(
        contract=contract, number=number, effective_from=effective_from, reason=reason, created_by=acting_user
    )
    planned: list[tuple[RateLine | None, ServiceCatalogEntry, RateLineVersion, dict[str, list[Any]]]] = []
    seen: set[int] = set()
    for change in changes:
        service = change.service
        if service.pk in seen:
            raise ValidationError({"changes": f"{service.display} appears twice in the amendment."})
        seen.add(service.pk)
        terms = dict(change.terms)
        _check_terms(terms)
        line = lines.get(service.pk)
        if line is None:
            if "rate" not in terms:
                raise ValidationError(
                    {"rate": f"Give a rate for {service.display}, which is new to the contract."}
                )
            _check_service_in_catalog(contract, service, effective_from)
            check_no_overlap(contract, [service.pk])
            base: dict[str, Any] = catalog_defaults(service)
        else:
            if any(v.effective_from == effective_from for v in line.versions.all()):
                raise ValidationError(
                    {
                        "effective_from": f"{service.display} already has terms starting {human_date(effective_from)}."
                    }
                )
            current = line.version_on(effective_from)
            base = current.terms() if current else catalog_defaults(service)
        new_terms = {**base, **terms}
        diff = {k: [_show(base.get(k)), _show(v)] for k, v in new_terms.items() if base.get(k) != v}
        if line is not None and not diff:
            continue
        version = _validated_version(RateLineVersion(effective_from=effective_from, **new_terms))
        planned.append((line, service, version, diff))
    if not planned:
        raise ValidationError({"changes": "The amendment changes nothing: the terms are the same as before."})

    amendment.save()
    for line, service, version, _diff in planned:
        if line is None:
            line = RateLine.objects.create(contract=contract, service=service, created_by=acting_user)
        version.rate_line = line
        version.amendment = amendment
        version.created_by = acting_user
        version.save()
    audit.record(
        actor=acting_user,
        action=AuditAction.UPDATE,
        obj=contract,
        organization=contract.plan,
        summary=f"Amendment {number} to contract {contract.number} from {human_date(effective_from)}: {reason}"[
            :300
        ],
        changes={service.label: diff for _line, service, _v, diff in planned},
    )
    return amendment


def _show(value: Any) -> Any:
    return None if value is None else str(value)
