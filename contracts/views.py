"""Contract pages: list and filter, create and edit drafts, rate schedule, activate, amend,
terminate, the signed document, utilization (table, chart, CSV) and the service catalog.

Plan contract managers (and plan admins) write; everyone else who can see a contract reads it.
Every lookup starts from ``visible_to``: a contract outside the user's scope is a 404.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from cbo_portal import access, csvsafe
from cbo_portal.badinput import id_or_none, posted_id
from cbo_portal.charts import bar_chart
from cbo_portal.choices import AuditAction, OrgKind
from cbo_portal.models import County
from cbo_portal.services import audit
from cbo_portal.views.shell import SERVICE_ERRORS, apply_service_error, get_visible, portal_view
from contracts import utilization as usage
from contracts.choices import ContractStatus, ServiceCategory
from contracts.forms import (
    AmendRateForm,
    ContractForm,
    RateLineForm,
    SignedDocumentForm,
    TerminateForm,
)
from contracts.models import (
    Contract,
    ContractAmendment,
    ContractStatusChange,
    RateLine,
    RateLineVersion,
    ServiceCatalogEntry,
)
from contracts.models.contracts import human_date
from contracts.services import contracts as contract_services
from contracts.services import rates as rate_services
from contracts.services.contracts import ADMIN_FIELDS, CONTRACT_ROLES

RATE_LINES = RateLine.objects.select_related("service").prefetch_related(
    Prefetch("versions", RateLineVersion.objects.select_related("amendment").order_by("effective_from"))
)


def can_manage(user, plan_id: int) -> bool:
    return access.is_platform_admin(user) or access.has_role(user, plan_id, CONTRACT_ROLES)


def _managed_plan(request: HttpRequest):
    """The plan the user writes contracts for (the active organization), or None."""
    org = request.org
    if org is not None and org.kind == OrgKind.PLAN and access.has_role(request.user, org, CONTRACT_ROLES):
        return org
    return None


def _contract(request: HttpRequest, pk: int) -> Contract:
    return get_visible(Contract.objects.select_related("plan", "cbo", "cbo__hub"), request.user, pk=pk)


@portal_view
def contract_list(request: HttpRequest) -> HttpResponse:
    """Contracts the user can see, filtered by status, county, counterparty and text."""
    contracts = Contract.objects.visible_to(request.user).for_list().annotate(services=Count("rate_lines"))
    status = request.GET.get("status", "")
    if status in ContractStatus.values:
        contracts = contracts.filter(status=status)
    if county := request.GET.get("county", ""):
        contracts = contracts.filter(counties__name=county)
    party = request.GET.get("party", "").strip()
    if (party_id := id_or_none(party)) is not None:
        contracts = contracts.filter(Q(plan_id=party_id) | Q(cbo_id=party_id))
    if query := request.GET.get("q", "").strip():
        contracts = contracts.filter(
            Q(number__icontains=query)
            | Q(title__icontains=query)
            | Q(cbo__legal_name__icontains=query)
            | Q(cbo__dba__icontains=query)
            | Q(plan__legal_name__icontains=query)
        )
    page = Paginator(contracts.order_by("-start_date", "number").distinct(), 25).get_page(
        request.GET.get("page")
    )
    flags = usage.cap_flags(list(page))
    for c in page:
        c.cap_flag = flags.get(c.pk, "")
    visible = Contract.objects.visible_to(request.user)
    own = access.member_org_ids(request.user)
    parties = sorted(
        {p for p in visible.values_list("plan_id", "plan__legal_name") if p[0] not in own}
        | {p for p in visible.values_list("cbo_id", "cbo__legal_name") if p[0] not in own},
        key=lambda p: p[1],
    )
    return render(
        request,
        "contracts/list.html",
        {
            "page": page,
            "statuses": ContractStatus.choices,
            "status": status,
            "county": county,
            "counties": County.objects.filter(contracts__in=visible).distinct(),
            "parties": parties,
            "party": party,
            "q": query,
            "can_create": _managed_plan(request) is not None,
            "today": timezone.localdate(),
        },
    )


@portal_view
@require_http_methods(["GET", "POST"])
def contract_create(request: HttpRequest) -> HttpResponse:
    plan = _managed_plan(request)
    if plan is None:
        raise Http404
    form = ContractForm(request.POST or None, initial={"payer_id": plan.payer_id, "timely_filing_days": 180})
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            contract = contract_services.create_contract(
                acting_user=request.user, plan=plan, counties=list(data.pop("counties")), **data
            )
        except SERVICE_ERRORS as exc:
            errors = apply_service_error(form, exc)
        else:
            messages.success(request, f"Draft contract {contract.number} created. Add its rate lines next.")
            return redirect("contracts:detail", contract.pk)
    return render(request, "contracts/form.html", {"form": form, "plan": plan, "errors": errors})


@portal_view
@require_http_methods(["GET", "POST"])
def contract_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract(request, pk)
    if not can_manage(request.user, contract.plan_id):
        raise Http404
    form = ContractForm(
        request.POST or None, instance=contract, initial={"counties": contract.counties.all()}
    )
    if not contract.is_editable:
        for name, field in form.fields.items():
            field.disabled = name not in ADMIN_FIELDS
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "cbo" and not form.fields[k].disabled}
        counties = data.pop("counties", None)
        try:
            contract_services.update_contract(
                contract,
                acting_user=request.user,
                changes=data,
                counties=list(counties) if counties is not None else None,
            )
        except SERVICE_ERRORS as exc:
            errors = apply_service_error(form, exc)
        else:
            messages.success(request, "Contract saved.")
            return redirect("contracts:detail", contract.pk)
    return render(
        request,
        "contracts/form.html",
        {"form": form, "contract": contract, "plan": contract.plan, "errors": errors},
    )


@portal_view
@require_http_methods(["GET", "POST"])
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The contract, its rate schedule and history; managers act on it here."""
    contract = _contract(request, pk)
    manager = can_manage(request.user, contract.plan_id)
    lines = list(RATE_LINES.filter(contract=contract))
    line_form = RateLineForm(
        prefix="line", on=contract.start_date, exclude=[line.service_id for line in lines]
    )
    terminate_form = TerminateForm(prefix="term")
    document_form = SignedDocumentForm(prefix="doc")
    errors: list[str] = []
    if request.method == "POST":
        if not manager:
            raise Http404
        action = request.POST.get("action", "")
        form = None
        try:
            if action == "add_line":
                form = line_form = RateLineForm(
                    request.POST,
                    prefix="line",
                    on=contract.start_date,
                    exclude=[line.service_id for line in lines],
                )
                if line_form.is_valid():
                    entry = line_form.cleaned_data["service"]
                    rate_services.add_rate_line(
                        contract, acting_user=request.user, service=entry, **line_form.terms()
                    )
                    messages.success(request, f"Added {entry.label} {entry.name}.")
                    return redirect("contracts:detail", contract.pk)
            elif action == "remove_line":
                line = get_visible(
                    RateLine.objects.select_related("contract", "service"),
                    request.user,
                    pk=posted_id(request.POST, "line"),
                    contract=contract,
                )
                rate_services.remove_rate_line(line, acting_user=request.user)
                messages.success(request, f"Removed {line.service.label}.")
                return redirect("contracts:detail", contract.pk)
            elif action == "activate":
                contract_services.activate(contract, acting_user=request.user)
                messages.success(request, f"Contract {contract.number} is active.")
                return redirect("contracts:detail", contract.pk)
            elif action == "terminate":
                form = terminate_form = TerminateForm(request.POST, prefix="term")
                if terminate_form.is_valid():
                    contract_services.terminate(
                        contract, acting_user=request.user, **terminate_form.cleaned_data
                    )
                    messages.success(request, f"Contract {contract.number} terminated.")
                    return redirect("contracts:detail", contract.pk)
            elif action == "upload":
                form = document_form = SignedDocumentForm(request.POST, request.FILES, prefix="doc")
                if document_form.is_valid():
                    contract_services.upload_signed_document(
                        contract, acting_user=request.user, upload=document_form.cleaned_data["file"]
                    )
                    messages.success(request, "Signed contract uploaded.")
                    return redirect("contracts:detail", contract.pk)
        except SERVICE_ERRORS as exc:
            errors = apply_service_error(form, exc)
    today = timezone.localdate()
    schedule = [(line, line.version_on(today) or line.current_version(today)) for line in lines]
    return render(
        request,
        "contracts/detail.html",
        {
            "contract": contract,
            "manager": manager,
            "schedule": schedule,
            "today": today,
            "line_form": line_form,
            "terminate_form": terminate_form,
            "document_form": document_form,
            "history": ContractStatusChange.objects.filter(contract=contract).select_related("actor"),
            "amendments": ContractAmendment.objects.filter(contract=contract)
            .select_related("created_by")
            .prefetch_related(
                Prefetch("versions", RateLineVersion.objects.select_related("rate_line__service"))
            ),
            "counties": contract.counties.all(),
            "errors": errors,
            "open_terminate": request.method == "POST" and request.POST.get("action") == "terminate",
        },
    )


@portal_view
@require_http_methods(["GET", "POST"])
def amend_rate(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    """Amend one rate line of an active contract from a date on."""
    contract = _contract(request, pk)
    if not can_manage(request.user, contract.plan_id):
        raise Http404
    line = get_visible(RATE_LINES.select_related("contract"), request.user, pk=line_pk, contract=contract)
    today = timezone.localdate()
    current = line.current_version(today)
    initial = {**current.terms(), "effective_from": max(today, contract.start_date)} if current else {}
    form = AmendRateForm(request.POST or None, initial=initial)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            rate_services.amend(
                contract,
                acting_user=request.user,
                effective_from=form.cleaned_data["effective_from"],
                reason=form.cleaned_data["reason"],
                changes=[rate_services.RateChange(line.service, form.terms())],
            )
        except SERVICE_ERRORS as exc:
            errors = apply_service_error(form, exc)
        else:
            messages.success(
                request,
                f"Amended {line.service.display} from {human_date(form.cleaned_data['effective_from'])}.",
            )
            return redirect("contracts:detail", contract.pk)
    return render(
        request,
        "contracts/amend.html",
        {"contract": contract, "line": line, "current": current, "form": form, "errors": errors},
    )


@portal_view
def signed_document(request: HttpRequest, pk: int) -> FileResponse:
    contract = _contract(request, pk)
    if not contract.signed_document:
        raise Http404
    audit.record(
        actor=request.user,
        action=AuditAction.DOWNLOAD,
        obj=contract,
        organization=contract.plan,
        summary=f"Downloaded the signed copy of contract {contract.number}",
    )
    return FileResponse(
        contract.signed_document.open("rb"),
        as_attachment=True,
        filename=contract.signed_document_name or "contract.pdf",
        content_type="application/pdf",
    )


def _months(contract: Contract, today: date) -> list[date]:
    """The contract's months up to today (at most the last 12) for the chart's axis."""
    last = min(d for d in (contract.last_covered_day, today) if d is not None)
    months: list[date] = []
    cursor = contract.start_date.replace(day=1)
    while cursor <= last:
        months.append(cursor)
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    return months[-12:] or [contract.start_date.replace(day=1)]


def _chart(result: usage.Utilization, months: list[date]) -> dict:
    """Dollars logged, billed and paid per month, the last twelve months of the contract."""
    by_month = dict(result.by_month)
    months = sorted(set(months) | set(by_month))[-12:]
    figures = [by_month.get(month) or usage.Figures() for month in months]
    return bar_chart(
        [month.strftime("%b %Y") for month in months],
        {stage.capitalize(): [f.amount[stage] for f in figures] for stage in usage.STAGES},
        money=True,
    )


@portal_view
def utilization_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Units and dollars logged, billed and paid per service and month, against each cap."""
    contract = _contract(request, pk)
    result = usage.utilization(contract)
    if request.GET.get("format") == "csv":
        return _utilization_csv(contract, result)
    return render(
        request,
        "contracts/utilization.html",
        {
            "contract": contract,
            "result": result,
            "chart": _chart(result, _months(contract, timezone.localdate())),
        },
    )


def _utilization_csv(contract: Contract, result: usage.Utilization) -> HttpResponse:
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="utilization-{contract.number}.csv"'
    writer = csvsafe.writer(response)
    header = [
        "month",
        "service",
        "service_name",
        "logged_units",
        "logged_amount",
        "billed_units",
        "billed_amount",
        "paid_units",
        "paid_amount",
    ]
    writer.writerow(header)
    for row in usage.as_data(result)["rows"]:
        writer.writerow([row["month"].strftime("%Y-%m"), *(row[h] for h in header[1:])])
    return response


@portal_view
def catalog(request: HttpRequest) -> HttpResponse:
    """The CalAIM service catalog: codes, modifiers and default terms (reference for everyone)."""
    entries = ServiceCatalogEntry.objects.visible_to(request.user)
    category = request.GET.get("category", "")
    if category in ServiceCategory.values:
        entries = entries.filter(category=category)
    if query := request.GET.get("q", "").strip():
        entries = entries.filter(Q(code__icontains=query) | Q(name__icontains=query))
    return render(
        request,
        "contracts/catalog.html",
        {
            "entries": entries,
            "categories": ServiceCategory.choices,
            "category": category,
            "q": query,
            "today": timezone.localdate(),
        },
    )
