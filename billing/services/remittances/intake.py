"""One 835 file, from its bytes to posted payments: who may import it, its transaction sets, a
payment already posted, the remittance rows and their totals (the rules: the package docstring)."""

from __future__ import annotations

import hashlib
import io
from pathlib import PurePath

from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing.models import Claim, ProviderAdjustment, Remittance
from billing.scope import PROVIDER_BILLING_ROLES, billing_scope_q
from billing.services.batches import mark_answered_batches
from billing.services.remittances.posting import ImportContext, Pipeline
from billing.services.remittances.results import ImportResult, RemittanceImportError, summarize
from billing.services.remittances.rules import ZERO, decode_x12
from billing.x12 import remit835 as x835
from billing.x12.common import SegmentReader, X12Error
from cbo_portal import access
from cbo_portal.choices import AuditAction, OrgKind
from cbo_portal.fastpath import advisory_lock
from cbo_portal.models import Organization
from cbo_portal.services import audit
from cbo_portal.words import count
from contracts.money import money


def uploader_scope(acting_user) -> Q | None:
    """Which claims a file brought by ``acting_user`` may post to: ``None`` (all) for system
    pickups and platform admins; the claims the user bills for (as provider, its hub or submitter)
    for provider billing staff. Anyone else (plans, staff who only log services) may not import."""
    if acting_user is None or not getattr(acting_user, "is_authenticated", False):
        return None
    if access.is_platform_admin(acting_user):
        return None
    if not access.org_ids_with_roles(acting_user, PROVIDER_BILLING_ROLES):
        raise PermissionDenied("Only a provider's billing staff can import 835 and 999 files.")
    return billing_scope_q(acting_user, provider="billing_provider", submitter="submitter", plan=None)


def import_remittance(data: bytes, *, file_name: str, acting_user=None, _retry: bool = True) -> ImportResult:
    """Import one 835 file (see the module docstring for the rules). Returns the summary; raises
    ``RemittanceImportError`` (a ``ValidationError``) for a file that cannot be imported or that is
    not addressed to the uploader, in which case nothing was changed. A user posts only to claims
    they bill for (``uploader_scope``)."""
    scope = uploader_scope(acting_user)
    org_ids: frozenset[int] = frozenset()
    if scope is not None:
        org_ids = frozenset(access.org_ids_with_roles(acting_user, PROVIDER_BILLING_ROLES))
    digest = hashlib.sha256(data).hexdigest()
    name = PurePath(file_name or "remittance.835").name[:200]
    try:
        text = decode_x12(data, "835")
        with transaction.atomic():
            mark_answered_batches(
                lambda: _claim_numbers(text), answer=f"835 {name}", acting_user=acting_user, scope=scope
            )
            ctx = ImportContext(
                file_name=name, acting_user=acting_user, now=timezone.now(), scope=scope, org_ids=org_ids
            )
            _post(text, ctx, digest, data)
    except X12Error as exc:
        raise RemittanceImportError(f"{name} was not imported: {exc}") from exc
    except IntegrityError:
        # A concurrent import of the same payment lost the race on its unique payment key: import
        # again, which now finds the payment posted and says so.
        if not _retry:
            raise
        return import_remittance(data, file_name=file_name, acting_user=acting_user, _retry=False)
    return ctx.result


def _post(text: str, ctx: ImportContext, digest: str, data: bytes) -> None:
    set_index = 0
    with Pipeline(ctx) as pipeline:
        for event in x835.iter_835(io.StringIO(text)):
            if isinstance(event, x835.ClaimPayment):
                if not ctx.skipping:
                    pipeline.add(event)
            elif isinstance(event, x835.RemittanceStart):
                pipeline.drain()
                header = event.remittance
                payee = _check_addressee(header, ctx, text, set_index)
                set_index += 1
                existing = Remittance.objects.filter(payment_key=header.payment_key).first()
                if existing is not None:
                    ctx.skipping = True
                    ctx.result.already_posted.append(existing)
                    continue
                ctx.row = _start_remittance(header, ctx, digest, data, payee)
            else:
                pipeline.drain()
                if ctx.skipping:
                    ctx.skipping = False
                else:
                    _finish_remittance(event, ctx)
    if ctx.result.remittance is None:
        if ctx.result.already_posted:
            already = summarize(ctx.result.already_posted)
            already.already_posted = ctx.result.already_posted
            ctx.result = already
            return
        raise RemittanceImportError(f"{ctx.file_name} was not imported: it holds no 835 transaction set.")


def _claim_numbers(text: str, set_index: int | None = None) -> set[str]:
    """The CLP01s of the file (or of its ``set_index``-th transaction set), read by a plain pass
    over its segments. Only for the rare paths that need them before posting: a batch that was
    written but not marked sent, an uploader who is not the payee."""
    numbers: set[str] = set()
    index = -1
    for seg in SegmentReader(text):
        if seg[0] == "ST":
            index += 1
        elif seg[0] == "CLP" and len(seg) > 1 and (set_index is None or index == set_index):
            numbers.add(seg[1])
    return numbers


def _check_addressee(
    header: x835.Remittance, ctx: ImportContext, text: str, set_index: int
) -> Organization | None:
    """The payee the set names; refuses (nothing written yet) an uploader who is neither that
    payee, its hub, nor the submitter of a claim the set pays."""
    payee = _resolve_payee(header)
    if ctx.scope is None:
        return payee
    orgs = ctx.org_ids
    if payee is not None and (payee.pk in orgs or (payee.hub_id is not None and payee.hub_id in orgs)):
        return payee
    numbers = list(_claim_numbers(text, set_index))
    if numbers and Claim.objects.filter(control_number__in=numbers, submitter_id__in=orgs).exists():
        return payee
    named = " or ".join(
        f"{what} {value}" for what, value in (("NPI", header.payee_npi), ("TIN", header.payee_tin)) if value
    )
    raise RemittanceImportError(
        f"{ctx.file_name} was not imported: it pays {header.payee_name or 'another payee'}"
        f"{f' ({named})' if named else ''}, and your organization is neither that payee, its hub, nor "
        f"the submitter of the claims it pays. Nothing was stored; the payee must import it."
    )


def _resolve_plan(header: x835.Remittance) -> Organization | None:
    plans = Organization.objects.filter(kind=OrgKind.PLAN)
    if header.payer_id:
        found = list(plans.filter(payer_id=header.payer_id)[:2])
        if len(found) == 1:
            return found[0]
    found = list(plans.filter(legal_name__iexact=header.payer_name)[:2])
    return found[0] if len(found) == 1 else None


def _resolve_payee(header: x835.Remittance) -> Organization | None:
    """The organization N1*PE names: by NPI (N103 XX), else by TIN (N103 FI or REF*TJ)."""
    providers = Organization.objects.exclude(kind=OrgKind.PLAN)
    if header.payee_npi:
        found = list(providers.filter(npi=header.payee_npi)[:2])
        if len(found) == 1:
            return found[0]
    digits = "".join(c for c in header.payee_tin if c.isdigit())
    if len(digits) == 9:
        found = list(providers.filter(tin__in=[digits, f"{digits[:2]}-{digits[2:]}"])[:2])
        if len(found) == 1:
            return found[0]
    return None


def _lock_plan(plan: Organization | None) -> None:
    """Imports for the same plan run one after the other (a transaction-scoped advisory lock on
    PostgreSQL): two files must not post to the same claims at once. Cheaper than locking every
    claim row, which would write each row one more time."""
    if plan is not None:
        advisory_lock(835, plan.pk)


def _start_remittance(
    header: x835.Remittance, ctx: ImportContext, digest: str, data: bytes, payee: Organization | None
) -> Remittance:
    plan = _resolve_plan(header)
    _lock_plan(plan)
    row = Remittance(
        plan=plan,
        payee=payee,
        file_name=ctx.file_name,
        sha256=digest,
        payment_key=header.payment_key,
        originator_id=header.originator_id[:50],
        payer_name=header.payer_name[:120],
        payer_id=header.payer_id[:50],
        payee_npi=header.payee_npi[:10],
        trace_number=header.trace_number[:50],
        payment_method=header.payment_method[:3],
        payment_date=header.payment_date,
        total_paid=money(header.total_paid),
        imported_by=ctx.acting_user if getattr(ctx.acting_user, "is_authenticated", False) else None,
    )
    first = ctx.result.remittance
    if first is None:
        row.file.save(ctx.file_name, ContentFile(data), save=False)
    else:
        row.file.name = first.file.name  # the same file backs every set of it
    row.save()
    if first is None:
        ctx.result.remittance = row
    ctx.set_claims = ctx.set_matched = 0
    ctx.result.remittances.append(row)
    for org in Organization.objects.filter(kind__in=[OrgKind.CBO, OrgKind.HUB]).only("id", "npi", "hub_id"):
        ctx.orgs[org.pk] = (org.npi, org.hub_id)
    return row


def _finish_remittance(event: x835.RemittanceEnd, ctx: ImportContext) -> None:
    row = ctx.row
    assert row is not None
    plbs = [
        ProviderAdjustment(
            remittance=row,
            provider_identifier=p.provider_id[:50],
            fiscal_period_end=p.fiscal_period_date,
            reason_code=p.reason[:2],
            reference=p.reference[:50],
            amount=money(p.amount),
        )
        for p in event.remittance.provider_adjustments
        if p.amount
    ]
    ProviderAdjustment.objects.bulk_create(plbs)
    row.claim_count = ctx.set_claims
    row.matched_count = ctx.set_matched
    row.unmatched_count = ctx.set_claims - ctx.set_matched
    row.save(update_fields=["claim_count", "matched_count", "unmatched_count"])
    ctx.result.provider_adjustment_total += sum((p.amount for p in plbs), ZERO)
    audit.record(
        actor=ctx.acting_user,
        action=AuditAction.CREATE,
        obj=row,
        organization=row.payee,
        summary=f"Imported 835 {row.trace_number} from {row.payer_name}: {count(row.claim_count, 'claim')}, "
        f"{row.matched_count} matched, ${row.total_paid} paid",
        changes={"file": ctx.file_name, "claims": row.claim_count, "unmatched": row.unmatched_count},
    )
