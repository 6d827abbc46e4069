"""Billing coordinator pages: remittances (list, detail), 835/999 upload, the unmatched work queue,
the denials queue and the billing reports, each list with a CSV export.

Every lookup starts from ``visible_to``: anything outside the user's scope is a 404. Plans read
remittances and reports; only the provider side uploads, resolves, corrects and voids (the
services enforce it).
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from billing import selectors as reports
from billing.audit import record_claims_view
from billing.models import Acknowledgement, Adjustment, Claim, Payment, Remittance, RemittanceClaim
from billing.scope import PROVIDER_BILLING_ROLES
from billing.services import acks as ack_services
from billing.services import denials as denial_services
from billing.services import remittances as remit_services
from billing.x12 import carc as codes
from billing.x12.common import answer_kind
from cbo_portal import access, csvsafe
from cbo_portal.charts import bar_chart
from cbo_portal.views.shell import SERVICE_ERRORS, apply_service_error, get_visible, portal_view
from cbo_portal.words import count
from contracts.models.contracts import human_date

PAGE_SIZE = 25


def _is_biller(user) -> bool:
    return access.is_platform_admin(user) or bool(access.org_ids_with_roles(user, PROVIDER_BILLING_ROLES))


def _csv(name: str, header: list[str], rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csvsafe.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def _page(request: HttpRequest, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


# --------------------------------------------------------------------------- remittances


@portal_view
def remittance_list(request: HttpRequest) -> HttpResponse:
    """835 payments the user can see, newest first; filter by plan and text; CSV export."""
    remits = Remittance.objects.visible_to(request.user).select_related("plan", "payee")
    query = request.GET.get("q", "").strip()
    if query:
        remits = remits.filter(
            Q(trace_number__icontains=query) | Q(file_name__icontains=query) | Q(payer_name__icontains=query)
        )
    if request.GET.get("unmatched") == "1":
        remits = remits.filter(unmatched_count__gt=0)
    if request.GET.get("format") == "csv":
        return _csv(
            "remittances.csv",
            [
                "Payment date",
                "Payer",
                "Payee",
                "Trace number",
                "Method",
                "Total paid",
                "Claims",
                "Matched",
                "Unmatched",
                "File",
                "Imported",
            ],
            (
                [
                    r.payment_date,
                    r.payer_name,
                    r.payee or r.payee_npi,
                    r.trace_number,
                    r.payment_method,
                    r.total_paid,
                    r.claim_count,
                    r.matched_count,
                    r.unmatched_count,
                    r.file_name,
                    r.imported_at.isoformat(),
                ]
                for r in remits.iterator()
            ),
        )
    waiting = (
        RemittanceClaim.objects.visible_to(request.user)
        .filter(claim__isnull=True, resolved_at__isnull=True)
        .count()
    )
    return render(
        request,
        "billing/remit_list.html",
        {
            "page": _page(request, remits),
            "q": query,
            "unmatched": request.GET.get("unmatched", ""),
            "waiting": waiting,
            "can_upload": _is_biller(request.user),
        },
    )


@portal_view
def remittance_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One 835: the payment, each claim payment with its payments and adjustments, and PLB."""
    remittance = get_visible(Remittance.objects.select_related("plan", "payee"), request.user, pk=pk)
    claims = (
        remittance.claims.select_related("claim")
        .prefetch_related(
            Prefetch("payments", Payment.objects.select_related("claim_line")),
            Prefetch("adjustments", Adjustment.objects.select_related("claim_line")),
        )
        .order_by("pk")
    )
    if request.GET.get("format") == "csv":
        rows = []
        for rc in claims.iterator(chunk_size=1000):
            adjustments = "; ".join(f"{a.group}-{a.carc} {a.amount}" for a in rc.adjustments.all())
            rows.append(
                [
                    rc.patient_control_number,
                    rc.payer_claim_number,
                    rc.status_code,
                    rc.charge,
                    rc.paid,
                    rc.patient_responsibility,
                    rc.claim.get_status_display() if rc.claim else "Unmatched",
                    adjustments,
                ]
            )
        record_claims_view(
            acting_user=request.user,
            claims=claims,
            member_field="claim__member_id",
            where=f"remittance {remittance.trace_number} CSV",
        )
        return _csv(
            f"remittance-{remittance.trace_number}.csv",
            [
                "Our claim",
                "Plan claim",
                "Plan's status code",
                "Charge",
                "Paid",
                "Patient share",
                "Claim status",
                "Adjustments",
            ],
            rows,
        )
    page = _page(request, claims)
    record_claims_view(
        acting_user=request.user,
        claims=page,
        member_field="claim__member_id",
        where=f"remittance {remittance.trace_number}",
    )
    for rc in page:
        rc.explained = [(a, codes.carc(a.carc)) for a in rc.adjustments.all()]
    return render(
        request,
        "billing/remit_detail.html",
        {
            "remittance": remittance,
            "page": page,
            "plbs": remittance.provider_adjustments.all(),
            "plb_names": PLB_REASONS,
        },
    )


PLB_REASONS = {
    "L6": "Interest owed",
    "WO": "Overpayment recovery",
    "FB": "Forwarding balance",
    "72": "Authorized return",
    "CS": "Adjustment",
    "J1": "Non-reimbursable",
    "50": "Late charge",
    "IR": "Internal Revenue Service withholding",
}


# --------------------------------------------------------------------------- upload


class UploadForm(forms.Form):
    KINDS = [
        ("auto", "Detect from the file"),
        ("835", "835 remittance advice"),
        ("999", "Acknowledgement: 999, 277CA or TA1"),
    ]
    file = forms.FileField(
        label="X12 file",
        help_text="The 835, 999, 277CA or TA1 exactly as the plan or clearinghouse sent it.",
    )
    kind = forms.ChoiceField(label="File type", choices=KINDS, initial="auto", widget=forms.RadioSelect)


def detect_kind(data: bytes) -> str:
    """``"835"`` for a remittance, ``"999"`` for any acknowledgement (999, 277CA or TA1: the
    acknowledgement service tells those apart), '' when neither is found. Reads the first set's
    ST01 (or a TA1) through the X12 reader, so a byte-order mark or unusual delimiters do not
    hide it; else looks for the GS01/ST01 markers with the ISA's element separator."""
    head = data[:20000].decode("utf-8-sig", "replace")
    kind = answer_kind(head)
    if kind is not None:
        return "835" if kind == "835" else "999"
    element = head[3:4] if head.startswith("ISA") else "*"
    for marker, kind in (
        (f"GS{element}HP", "835"),
        (f"GS{element}FA", "999"),
        (f"GS{element}HN", "999"),
        (f"ST{element}835", "835"),
        (f"ST{element}999", "999"),
        (f"ST{element}277", "999"),
    ):
        if marker in head:
            return kind
    return ""


# What a file is, by its functional group (GS01), for files this page does not take.
_NOT_AN_ANSWER = {
    "HC": "This is an 837 claim file (one we or another biller send to a plan), not an answer from the plan. "
    "Upload the 835 remittance or the 999 or 277CA acknowledgement the plan sent back.",
    "BE": "This is an 834 enrollment file, not a remittance or an acknowledgement.",
    "HS": "This is a 270 eligibility question, not a remittance or an acknowledgement.",
}


def wrong_file(data: bytes) -> str | None:
    """A plain sentence when the file is a kind of X12 this page does not take, else None (the
    intake services judge the rest)."""
    head = data[:4096].decode("latin-1", "replace")
    element = head[3:4] if head.startswith("ISA") else "*"
    for group, sentence in _NOT_AN_ANSWER.items():
        if f"GS{element}{group}{element}" in head:
            return sentence
    return None


@portal_view
def upload(request: HttpRequest) -> HttpResponse:
    """Upload an 835 or a 999. A bad file shows its error and changes nothing."""
    errors: list[str] = []
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload_file = form.cleaned_data["file"]
        data = upload_file.read()
        kind = form.cleaned_data["kind"]
        if kind == "auto":
            kind = detect_kind(data) or "835"
        try:
            if (wrong := wrong_file(data)) is not None:
                raise ValidationError(wrong)
            if kind == "999":
                ack = ack_services.import_ack(data, file_name=upload_file.name, acting_user=request.user)
                if ack.already_imported:
                    messages.info(
                        request,
                        f"{upload_file.name} was already imported on "
                        f"{human_date(timezone.localdate(ack.imported_at))}; nothing changed.",
                    )
                else:
                    messages.success(request, ack_summary(ack))
                return redirect("billing:ack", pk=ack.pk)
            result = remit_services.import_remittance(
                data, file_name=upload_file.name, acting_user=request.user
            )
        except SERVICE_ERRORS as exc:
            errors = apply_service_error(form, exc)
        else:
            if result.already_imported:
                messages.info(request, f"{upload_file.name} was already imported; nothing changed.")
            else:
                messages.success(
                    request,
                    (
                        f"835 imported: {count(result.claims_matched, 'claim')} matched, {result.claims_unmatched} unmatched, "
                        f"${result.paid_total:,} paid, {result.denied_count} denied."
                    ),
                )
            return redirect("billing:remittance", pk=result.remittance.pk)
    recent = Acknowledgement.objects.visible_to(request.user).select_related("batch")[:5]
    return render(
        request,
        "billing/remit_upload.html",
        {"form": form, "errors": errors, "recent_acks": recent, "can_upload": _is_biller(request.user)},
    )


# What each kind of acknowledgement counts.
_ACK_UNITS = {"999": "transaction set", "277CA": "claim", "TA1": "interchange"}


def ack_summary(ack: Acknowledgement) -> str:
    """One sentence on what an imported acknowledgement said, e.g. "277CA imported: 2 claims
    accepted, 1 rejected."."""
    unit = _ACK_UNITS.get(ack.kind, "item")
    if ack.kind == "TA1" and ack.accepted_sets + ack.rejected_sets == 1:
        return "TA1 imported: the plan " + (
            "could read the file."
            if ack.accepted_sets
            else "could not read the file; its claims are rejected."
        )
    return f"{ack.kind} imported: {count(ack.accepted_sets, unit)} accepted, {ack.rejected_sets} rejected."


@portal_view
def ack_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One imported acknowledgement: each transaction set's (999), claim's (277CA) or the
    interchange's (TA1) verdict and errors in words; a 277CA's claims link to their pages."""
    ack = get_visible(Acknowledgement.objects.select_related("batch", "batch__plan"), request.user, pk=pk)
    results = ack.results
    if ack.kind == "277CA":  # what needs the reader first: rejected claims, then pending, then accepted
        order = {"rejected": 0, "pending": 1}
        results = sorted(results, key=lambda r: order.get(r.get("outcome"), 2))
    page = Paginator(results, 100).get_page(request.GET.get("page"))
    claims = {}
    if ack.kind == "277CA":
        ids = [r["claim"] for r in page if isinstance(r.get("claim"), int)]
        claims = Claim.objects.visible_to(request.user).select_related("member").in_bulk(ids)
        record_claims_view(
            acting_user=request.user, claims=list(claims.values()), where=f"277CA {ack.file_name}"
        )
    rows = [{**r, "claim_obj": claims.get(r.get("claim"))} for r in page]
    return render(
        request,
        "billing/ack_detail.html",
        {
            "ack": ack,
            "rows": rows,
            "page": page,
            "unit": _ACK_UNITS.get(ack.kind, "item"),
        },
    )


# --------------------------------------------------------------------------- unmatched work queue


class ResolveForm(forms.Form):
    note = forms.CharField(
        label="What did you do?",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="E.g. “Called the plan: paid another provider's claim, refund requested.”",
    )


@portal_view
def unmatched(request: HttpRequest) -> HttpResponse:
    """Claim payments that matched none of our claims, waiting for someone to deal with them."""
    show = request.GET.get("show", "open")
    items = (
        RemittanceClaim.objects.visible_to(request.user)
        .filter(claim__isnull=True)
        .select_related("remittance", "resolved_by")
        .order_by("-remittance__imported_at", "pk")
    )
    items = items.filter(resolved_at__isnull=show != "resolved")
    if request.GET.get("format") == "csv":
        rows = list(items[:50000])
        why = remit_services.unmatched_reasons(rows)
        return _csv(
            "unmatched-payments.csv",
            [
                "Claim number in 835",
                "Plan claim",
                "Payer",
                "Trace",
                "Payment date",
                "Charge",
                "Paid",
                "Why",
                "Resolved",
                "Note",
            ],
            (
                [
                    i.patient_control_number,
                    i.payer_claim_number,
                    i.remittance.payer_name,
                    i.remittance.trace_number,
                    i.remittance.payment_date,
                    i.charge,
                    i.paid,
                    why[i.pk],
                    i.resolved_at.isoformat() if i.resolved_at else "",
                    i.resolution_note,
                ]
                for i in rows
            ),
        )
    page = _page(request, items)
    why = remit_services.unmatched_reasons(page)
    for item in page:
        item.why = why[item.pk]
    return render(
        request,
        "billing/remit_unmatched.html",
        {"page": page, "show": show, "form": ResolveForm(), "can_resolve": _is_biller(request.user)},
    )


@portal_view
@require_POST
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_visible(RemittanceClaim.objects.all(), request.user, pk=pk)
    form = ResolveForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError({"note": ["Say what you did about this payment before closing it."]})
        if not _is_biller(request.user):
            raise PermissionDenied("Only the provider's billing staff can resolve payments.")
        remit_services.resolve_unmatched(item, acting_user=request.user, note=form.cleaned_data["note"])
    except SERVICE_ERRORS as exc:
        for message in apply_service_error(None, exc):
            messages.error(request, f"{item.patient_control_number}: {message}")
    else:
        messages.success(request, f"Payment for {item.patient_control_number} marked as resolved.")
    return redirect(reverse("billing:unmatched"))


# --------------------------------------------------------------------------- denials


@portal_view
def denial_list(request: HttpRequest) -> HttpResponse:
    """Denied and short-paid claims with the reason in words, what to do, and the two fixes."""
    claims = denial_services.queue(request.user)
    status = request.GET.get("status", "")
    if status in denial_services.QUEUE_STATUSES:
        claims = claims.filter(status=status)
    if query := request.GET.get("q", "").strip():
        claims = claims.filter(
            Q(control_number__icontains=query)
            | Q(member__cin__iexact=query)
            | Q(payer_claim_number__icontains=query)
        )
    if request.GET.get("format") == "csv":
        rows, shown = [], []
        for c in claims[:50000]:
            reasons = denial_services.reasons(c)
            rows.append(
                [
                    c.control_number,
                    denial_services.payer_claim_number(c),
                    c.plan,
                    c.billing_provider,
                    c.member.cin,
                    c.first_service_date,
                    c.get_status_display(),
                    c.billed_amount,
                    c.paid_amount,
                    "; ".join(f"{r.label} {r.amount}: {r.description}" for r in reasons),
                    " ".join(r.advice for r in reasons if not r.is_patient_share),
                ]
            )
            shown.append(c)
        record_claims_view(acting_user=request.user, claims=shown, where="denials CSV")
        return _csv(
            "denials.csv",
            [
                "Claim",
                "Plan claim",
                "Plan",
                "Provider",
                "CIN",
                "Service date",
                "Status",
                "Billed",
                "Paid",
                "Reasons",
                "What to do",
            ],
            rows,
        )
    page = _page(request, claims)
    record_claims_view(acting_user=request.user, claims=page, where="denials queue")
    for c in page:
        c.reasons = denial_services.reasons(c)
        c.fixable = denial_services.can_fix(request.user, c)
        c.futile = denial_services.resubmit_cannot_help(c.reasons)
    return render(request, "billing/denial_list.html", {"page": page, "status": status, "q": query})


@portal_view
def denial_fix(request: HttpRequest, pk: int, how: str) -> HttpResponse:
    """Correct-and-resubmit (frequency 7) or void (frequency 8) one claim, each after a
    confirmation page: the correction shows what would be sent now (re-priced, re-scrubbed) with
    links to fix the source data first, and says when resubmitting cannot help (CO-45); the void
    asks whether the same service is to be billed again."""
    claim = get_visible(Claim.objects.for_list().select_related("contract", "referral"), request.user, pk=pk)
    if not denial_services.can_fix(request.user, claim):
        raise Http404
    claim_reasons = denial_services.reasons(claim)
    futile = denial_services.resubmit_cannot_help(claim_reasons)
    if request.method == "POST":
        reason = request.POST.get("reason", "")[:300]
        rebill = request.POST.get("rebill")
        if how == "void" and rebill not in ("yes", "no"):
            messages.error(request, "Say whether the same service should be billed again.")
            return redirect("billing:denial_void", pk=pk)
        if how == "correct" and futile:
            messages.error(request, "Resubmitting cannot change a contractual write-off (CO-45).")
            return redirect("billing:denial_correct", pk=pk)
        try:
            if how == "correct":
                new = denial_services.correct(claim, acting_user=request.user, reason=reason)
            else:
                new = denial_services.void(
                    claim, acting_user=request.user, reason=reason, rebill=rebill == "yes"
                )
        except SERVICE_ERRORS as exc:
            for message in apply_service_error(None, exc):
                messages.error(request, f"Claim {claim.control_number}: {message}")
            return redirect("billing:denials")
        if how == "correct":
            messages.success(
                request,
                f"Claim {claim.control_number} corrected: the replacement claim "
                f"{new.control_number or new.pk} is {new.get_status_display().lower()} "
                "for the next batch.",
            )
        elif rebill == "yes":
            messages.success(
                request,
                f"Claim {claim.control_number} voided. Its services go back to billing "
                "and will be on the next claims built.",
            )
        else:
            messages.success(
                request, f"Claim {claim.control_number} voided. Its services will not be billed again."
            )
        return redirect("billing:claim", pk=new.pk)
    context = {"claim": claim, "reasons": claim_reasons, "futile": futile, "how": how}
    if how == "correct" and not futile:
        from billing import fixlinks
        from billing.services import claims as claim_services

        preview = claim_services.preview_correction(claim)
        context.update(
            preview=preview,
            problems=fixlinks.fix_links(
                request.user, claim, preview.problems, active_org=getattr(request, "org", None)
            ),
            has_errors=any(p["severity"] == "error" for p in preview.problems),
        )
    return render(request, "billing/denial_confirm.html", context)


# --------------------------------------------------------------------------- reports


@portal_view
def report(request: HttpRequest) -> HttpResponse:
    """A/R aging by plan, billed vs paid by month (chart), denial rate by reason; CSV for each."""
    export = request.GET.get("export")
    if export == "aging":
        return _csv(
            "ar-aging.csv",
            ["Plan", "Claims", "0-30 days", "31-60 days", "61-90 days", "90+ days", "Total"],
            (
                [r.plan, r.claims, *[r.buckets[k] for k, *_ in reports.BUCKETS], r.total]
                for r in reports.aging(request.user)
            ),
        )
    if export == "billed-vs-paid":
        return _csv(
            "billed-vs-paid.csv",
            ["Month", "Billed", "Paid"],
            ([m.month.strftime("%Y-%m"), m.billed, m.paid] for m in reports.billed_vs_paid(request.user)),
        )
    if export == "denial-rate":
        rate = reports.denial_rate(request.user)
        return _csv(
            "denial-rate.csv",
            ["CARC", "Reason", "Claims", "Share of decided claims (%)", "Amount", "What to do"],
            ([r.carc, r.description, r.claims, r.share, r.amount, r.advice] for r in rate.reasons),
        )
    months = reports.billed_vs_paid(request.user)
    return render(
        request,
        "billing/report_index.html",
        {
            "aging": reports.aging(request.user),
            "buckets": reports.BUCKETS,
            "months": months,
            "chart": bar_chart(
                [m.month.strftime("%b %Y") for m in months],
                {"Billed": [m.billed for m in months], "Paid": [m.paid for m in months]},
                money=True,
            ),
            "rate": reports.denial_rate(request.user),
            "billed_total": sum((m.billed for m in months), Decimal(0)),
            "paid_total": sum((m.paid for m in months), Decimal(0)),
        },
    )


urlpatterns = [
    path("billing/remittances/", remittance_list, name="remittances"),
    path("billing/remittances/upload/", upload, name="remit_upload"),
    path("billing/remittances/unmatched/", unmatched, name="unmatched"),
    path("billing/remittances/unmatched/<int:pk>/resolve/", resolve, name="unmatched_resolve"),
    path("billing/remittances/<int:pk>/", remittance_detail, name="remittance"),
    path("billing/acknowledgements/<int:pk>/", ack_detail, name="ack"),
    path("billing/denials/", denial_list, name="denials"),
    path("billing/denials/<int:pk>/correct/", denial_fix, {"how": "correct"}, name="denial_correct"),
    path("billing/denials/<int:pk>/void/", denial_fix, {"how": "void"}, name="denial_void"),
    path("billing/reports/", report, name="reports"),
]
