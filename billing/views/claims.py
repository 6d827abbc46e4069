"""Billing pages for claims and batches: thin views over billing.services.

Billing coordinators (and admins) of a CBO or hub build claims, see ready and held claims with
their problems and fixes, re-scrub, create batches (the file is written by a task; the page
shows its progress) and download files. Plans see the claims sent to them, read-only.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from billing import fixlinks
from billing.audit import record_claims_view
from billing.choices import BatchFormat, BatchStatus, BuildStatus, ClaimStatus, DeliveryMethod
from billing.models import Batch, Claim, ClaimBuild, ClaimStatusChange, PlanChannel
from billing.scope import PROVIDER_BILLING_ROLES
from billing.selectors import progress_percent
from billing.services import acks as ack_services
from billing.services import batches as batch_services
from billing.services import builds as build_services
from billing.services import claims as claim_services
from billing.services import invoices
from cbo_portal import access, csvsafe
from cbo_portal.badinput import id_or_none, posted_id
from cbo_portal.models import Organization
from cbo_portal.views.shell import SERVICE_ERRORS, apply_service_error, get_visible, portal_view
from cbo_portal.words import count


def _is_biller(user) -> bool:
    return access.is_platform_admin(user) or bool(access.org_ids_with_roles(user, PROVIDER_BILLING_ROLES))


def _month(value: str) -> date | None:
    try:
        year, month = value.split("-")[:2]
        return date(int(year), int(month), 1)
    except (ValueError, OverflowError):  # date(10**20, 1, 1) overflows rather than refusing
        return None


# What a billing coordinator has to act on: claims to send, and claims to fix (held by our
# scrubber, or rejected by the plan's 999/277CA/TA1).
BILLER_DEFAULT_STATUSES = (ClaimStatus.READY, ClaimStatus.HELD, ClaimStatus.REJECTED)


def _filtered_claims(request: HttpRequest):
    claims = Claim.objects.visible_to(request.user).for_list()
    status = request.GET.get("status", "")
    if status in ClaimStatus.values:
        claims = claims.filter(status=status)
    elif not status and _is_biller(request.user):
        claims = claims.filter(status__in=BILLER_DEFAULT_STATUSES)
    plan = request.GET.get("plan", "")
    if (plan_id := id_or_none(plan)) is not None:
        claims = claims.filter(plan_id=plan_id)
    month = _month(request.GET.get("month", ""))
    if month:
        claims = claims.filter(service_month=month)
    return claims.order_by("-service_month", "-pk"), status, plan, month


@portal_view
@require_GET
def claim_list(request: HttpRequest) -> HttpResponse:
    """Ready, held and rejected claims (or any status), filtered by plan and month; CSV export."""
    claims, status, plan, month = _filtered_claims(request)
    if request.GET.get("format") == "csv":
        record_claims_view(acting_user=request.user, claims=claims, where="claims CSV")
        rows = csvsafe.stream(batch_services.csv_rows(claims.iterator(chunk_size=2000)))
        response = StreamingHttpResponse(rows, content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="claims.csv"'
        return response
    page = Paginator(claims, 25).get_page(request.GET.get("page"))
    record_claims_view(acting_user=request.user, claims=page, where="claims list")
    hints = ack_services.rejection_hints([c.pk for c in page if c.status == ClaimStatus.REJECTED])
    for c in page:
        c.rejection_hint = hints.get(c.pk, "")
    visible = Claim.objects.visible_to(request.user)
    plans = Organization.objects.filter(pk__in=visible.values("plan_id")).order_by("legal_name")
    counts = dict(
        visible.filter(status__in=BILLER_DEFAULT_STATUSES).values_list("status").annotate(n=Count("pk"))
    )
    query = request.GET.copy()
    query.pop("page", None)
    query["format"] = "csv"
    return render(
        request,
        "billing/claims_list.html",
        {
            "page": page,
            "statuses": ClaimStatus.choices,
            "status": status,
            "plans": plans,
            "plan": plan,
            "month": month.strftime("%Y-%m") if month else "",
            "biller": _is_biller(request.user),
            "ready_count": counts.get(ClaimStatus.READY, 0),
            "held_count": counts.get(ClaimStatus.HELD, 0),
            "rejected_count": counts.get(ClaimStatus.REJECTED, 0),
            "csv_query": query.urlencode(),
            "billable": _billable_count(request.user),
            "groups": batch_services.ready_groups(request.user) if _is_biller(request.user) else [],
            "awaiting_approval": _awaiting_approval(request),
        },
    )


def _awaiting_approval(request: HttpRequest) -> bool:
    """The organization acted for is a provider the plan has not approved yet: it logs no
    services, so there is nothing to bill until then."""
    org = getattr(request, "org", None)
    return org is not None and org.is_provider and not org.is_approved


def _billable_count(user) -> int:
    if not _is_biller(user):
        return 0
    return claim_services.billable_deliveries(user).count()


@portal_view
@require_POST
def build(request: HttpRequest) -> HttpResponse:
    """Start building claims from every billable service the user may bill, on a worker; the
    build's page shows its progress."""
    try:
        started = build_services.start_build(acting_user=request.user)
    except SERVICE_ERRORS as error:
        for message in apply_service_error(None, error):
            messages.error(request, message)
        return redirect("billing:claims")
    if started is None:
        messages.info(request, "There were no new services to bill.")
        return redirect("billing:claims")
    return redirect("billing:claim_build", pk=started.pk)


def _build_text(run: ClaimBuild) -> str:
    """Where a build stands, in a sentence."""
    if run.status == BuildStatus.QUEUED:
        return f"Waiting for a worker to bill {count(run.total, 'service')}…"
    if run.status == BuildStatus.RUNNING:
        return f"{min(run.done, run.total):,} of {count(run.total, 'service')} gone through: {count(run.claims, 'claim')} built so far."
    if run.status == BuildStatus.FAILED:
        return f"Stopped after {count(run.claims, 'claim')}: {run.error}"
    if not run.claims:
        return "No claims were built: every service waiting was left unbilled (see why below)."
    return (
        f"Built {count(run.claims, 'claim')}: {run.ready} ready, {run.held} held (${run.billed_amount:,.2f})."
    )


@portal_view
@require_GET
def claim_build(request: HttpRequest, pk: int) -> HttpResponse:
    """One "Build claims" run: its progress while it works, then what it made."""
    run = get_visible(ClaimBuild.objects.all(), request.user, pk=pk)
    return render(
        request,
        "billing/claim_build.html",
        {
            "run": run,
            "text": _build_text(run),
            "finished": run.status not in build_services.UNFINISHED,
            "progress_url": reverse("billing:claim_build_progress", args=[run.pk]),
        },
    )


@portal_view
@require_GET
def claim_build_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """The build page's progress bar: percent, a sentence, and whether it has finished."""
    run = get_visible(ClaimBuild.objects.all(), request.user, pk=pk)
    return JsonResponse(
        {
            "status": run.status,
            "percent": run.percent,
            "text": _build_text(run),
            "finished": run.status not in build_services.UNFINISHED,
        }
    )


@portal_view
def claim_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One claim: lines, problems with their fixes, history; re-scrub (POST)."""
    claim = get_visible(
        Claim.objects.for_list().select_related("contract", "authorization", "replaces", "referral"),
        request.user,
        pk=pk,
    )
    if request.method == "POST":
        was_rejected = claim.status == ClaimStatus.REJECTED
        try:
            claim = claim_services.rescrub_claim(claim, acting_user=request.user)
        except SERVICE_ERRORS as error:
            for message in apply_service_error(None, error):
                messages.error(request, message)
        else:
            if claim.status == ClaimStatus.READY:
                messages.success(
                    request,
                    f"Claim {claim.control_number} is clean and ready to send."
                    + (f" It goes in the next batch to {claim.plan}." if was_rejected else ""),
                )
            else:
                messages.warning(request, f"Claim {claim.control_number} still has problems to fix.")
        return redirect("billing:claim", pk=pk)
    record_claims_view(
        acting_user=request.user, claims=[claim], where=f"claim {claim.control_number or claim.pk}"
    )
    history = ClaimStatusChange.objects.filter(claim=claim).select_related("actor")
    problems = fixlinks.fix_links(
        request.user, claim, claim.problems or [], active_org=getattr(request, "org", None)
    )
    rejected = ack_services.rejection(claim)
    refused = (
        fixlinks.fix_links(
            request.user,
            claim,
            [{"code": r.code, "line": r.line, "message": r.message, "fix": r.fix} for r in rejected.reasons],
            active_org=getattr(request, "org", None),
        )
        if rejected
        else []
    )
    member_problem = any(p.get("code") in fixlinks.MEMBER_CODES for p in problems + refused)
    return render(
        request,
        "billing/claims_detail.html",
        {
            "claim": claim,
            "lines": claim.lines.select_related("service"),
            "history": history,
            "problem_errors": [p for p in problems if p.get("severity") == "error"],
            "problem_warnings": [p for p in problems if p.get("severity") != "error"],
            "corrections": fixlinks.member_corrections(request.user, claim) if member_problem else [],
            "can_rescrub": claim.status in claim_services.RESCRUBBABLE and _can_bill(request.user, claim),
            "can_fix": claim.status in claim_services.CORRECTABLE
            and bool(claim.payer_claim_number)
            and _can_bill(request.user, claim),
            "replaced_by": Claim.objects.filter(replaces=claim).first(),
            "rejection": rejected,
            "refused": refused,
        },
    )


def _can_bill(user, claim: Claim) -> bool:
    try:
        claim_services.require_biller(user, claim)
    except SERVICE_ERRORS:
        return False
    return True


@portal_view
@require_GET
def batch_list(request: HttpRequest) -> HttpResponse:
    """Batches with their status and progress, and the groups of ready claims to batch."""
    batches = Batch.objects.visible_to(request.user).select_related("plan", "submitter")
    status = request.GET.get("status", "")
    if status in BatchStatus.values:
        batches = batches.filter(status=status)
    page = Paginator(batches, 25).get_page(request.GET.get("page"))
    for b in page:
        b.percent = progress_percent(b)
    return render(
        request,
        "billing/batch_list.html",
        {
            "page": page,
            "statuses": BatchStatus.choices,
            "status": status,
            "biller": _is_biller(request.user),
            "groups": batch_services.ready_groups(request.user) if _is_biller(request.user) else [],
        },
    )


@portal_view
@require_POST
def batch_create(request: HttpRequest) -> HttpResponse:
    """Create a batch for one submitter and plan (or every group, with no ids given)."""
    try:
        if request.POST.get("plan") and request.POST.get("submitter"):
            batch = batch_services.create_batch(
                submitter=Organization.objects.get(pk=posted_id(request.POST, "submitter")),
                plan=Organization.objects.get(pk=posted_id(request.POST, "plan")),
                acting_user=request.user,
                claim_format=request.POST.get("claim_format") or "837p",
            )
            messages.success(
                request,
                f"Batch {batch.pk} created with {count(batch.claim_count, 'claim')}; writing its file.",
            )
            return redirect("billing:batch", pk=batch.pk)
        made = batch_services.create_batches(acting_user=request.user)
    except (Organization.DoesNotExist, ValueError) as exc:
        raise Http404 from exc
    except SERVICE_ERRORS as error:
        for message in apply_service_error(None, error):
            messages.error(request, message)
        return redirect("billing:batches")
    messages.success(
        request, f"Created {count(len(made), 'batch', 'batches')}." if made else "No ready claims to batch."
    )
    return redirect("billing:batches")


@portal_view
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One batch: progress, file, claims; mark a downloaded file as sent, retry a failed one."""
    batch = get_visible(Batch.objects.select_related("plan", "submitter"), request.user, pk=pk)
    is_submitter = access.is_platform_admin(request.user) or access.has_role(
        request.user, batch.submitter, PROVIDER_BILLING_ROLES
    )
    if request.method == "POST":
        try:
            if request.POST.get("action") == "retry":
                batch_services.retry_batch(batch, acting_user=request.user)
                messages.success(request, "Retrying the batch.")
            else:
                batch_services.submit_batch(batch, acting_user=request.user)
                messages.success(request, "Marked as sent to the plan.")
        except SERVICE_ERRORS as error:
            for message in apply_service_error(None, error):
                messages.error(request, message)
        return redirect("billing:batch", pk=pk)
    channel = PlanChannel.objects.filter(plan=batch.plan).first()
    claims = Paginator(
        Claim.objects.filter(batch=batch)
        .select_related("member", "billing_provider")
        .order_by("billing_provider_id", "member__last_name", "pk"),
        50,
    ).get_page(request.GET.get("page"))
    record_claims_view(acting_user=request.user, claims=claims, where=f"batch {batch.pk}")
    history = batch.history.select_related("actor")
    batch.percent = progress_percent(batch)
    # Claims the plan rejected leave the batch when they are fixed, to go out in a later one.
    resent = batch.claim_count - claims.paginator.count if batch.status != BatchStatus.BUILDING else 0
    return render(
        request,
        "billing/batch_detail.html",
        {
            "batch": batch,
            "page": claims,
            "history": history,
            "is_submitter": is_submitter,
            "answers": batch.acknowledgements.order_by("imported_at", "pk"),
            "resent": max(resent, 0),
            "sftp": channel is not None and channel.method == DeliveryMethod.SFTP,
            "progress_url": reverse("billing:batch_progress", args=[batch.pk]),
            "invoice": batch.format == BatchFormat.INVOICE,
        },
    )


@portal_view
@require_GET
def batch_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """The progress bar's feed: status, claims written, percent."""
    batch = get_visible(Batch.objects.all(), request.user, pk=pk)
    return JsonResponse(
        {
            "status": batch.status,
            "status_label": batch.get_status_display(),
            "done": batch.progress_done,
            "total": batch.progress_total,
            "percent": progress_percent(batch),
            "error": batch.error,
            "text": f"{batch.progress_done:,} of {count(batch.progress_total, 'claim')} written.",
            "finished": batch.status != BatchStatus.BUILDING,
        }
    )


@portal_view
@require_GET
def batch_download(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_visible(Batch.objects.all(), request.user, pk=pk)
    try:
        batch_services.check_can_download(request.user, batch)
    except SERVICE_ERRORS as exc:
        raise Http404 from exc
    if not batch.file:
        raise Http404("The file is still being written.")
    record_claims_view(
        acting_user=request.user,
        claims=Claim.objects.filter(batch=batch),
        where=f"downloaded batch {batch.pk} file {batch.file_name}",
    )
    return FileResponse(batch.file.open("rb"), as_attachment=True, filename=batch.file_name)


@portal_view
@require_GET
def batch_invoice(request: HttpRequest, pk: int) -> HttpResponse:
    """The printable invoice(s) of a batch: one page per provider, plan and month."""
    batch = get_visible(Batch.objects.select_related("plan", "submitter"), request.user, pk=pk)
    claims = Claim.objects.filter(batch=batch).prefetch_related(Prefetch("lines"))
    record_claims_view(
        acting_user=request.user, claims=claims, where=f"printable invoice of batch {batch.pk}"
    )
    return render(
        request, "billing/invoice_print.html", {"batch": batch, "pages": invoices.invoice_pages(claims)}
    )


urlpatterns = [
    path("billing/claims/", claim_list, name="claims"),
    path("billing/claims/build/", build, name="build"),
    path("billing/claims/builds/<int:pk>/", claim_build, name="claim_build"),
    path("billing/claims/builds/<int:pk>/progress.json", claim_build_progress, name="claim_build_progress"),
    path("billing/claims/<int:pk>/", claim_detail, name="claim"),
    path("billing/batches/", batch_list, name="batches"),
    path("billing/batches/create/", batch_create, name="batch_create"),
    path("billing/batches/<int:pk>/", batch_detail, name="batch"),
    path("billing/batches/<int:pk>/progress.json", batch_progress, name="batch_progress"),
    path("billing/batches/<int:pk>/download/", batch_download, name="batch_download"),
    path("billing/batches/<int:pk>/invoice/", batch_invoice, name="batch_invoice"),
]
