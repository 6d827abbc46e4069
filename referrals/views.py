"""Referral pages: worklists, the referral list and record (accept, decline, outreach, authorize,
close), the phone-friendly service log, authorizations, members (every view audited), bulk files
with a progress bar, return files to plans and the plan's network report.

Every lookup starts from ``visible_to``: anything outside the user's scope is a 404. Writes go
through the services; their messages are shown on the form fields they name.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from cbo_portal import access, csvsafe
from cbo_portal.badinput import id_or_none
from cbo_portal.charts import bar_chart
from cbo_portal.choices import OrgKind
from cbo_portal.models import County, Organization
from cbo_portal.pagination import PAGE_COUNT_CAP, BoundedPaginator, bounded_count, rows_between
from cbo_portal.views.shell import SERVICE_ERRORS, apply_service_error, get_visible, portal_view
from contracts import selectors as contract_selectors
from referrals import forms as f
from referrals import selectors
from referrals.choices import (
    AWAITING_RESPONSE,
    OPEN_STATUSES,
    USABLE_AUTHORIZATION,
    AuthorizationStatus,
    ReferralStatus,
)
from referrals.models import (
    Authorization,
    AuthorizationStatusChange,
    Member,
    NetworkSnapshot,
    OutreachAttempt,
    Referral,
    ReferralImport,
    ReferralStatusChange,
    RosterImport,
    ServiceDelivery,
)
from referrals.services import authorizations as auth_svc
from referrals.services import consents as consent_svc
from referrals.services import deliveries as delivery_svc
from referrals.services import figures as figures_svc
from referrals.services import imports as import_svc
from referrals.services import members as member_svc
from referrals.services import referrals as ref_svc
from referrals.services import rosters as roster_svc
from referrals.services.common import PLAN_AUTHORIZERS, PLAN_REFERRERS, PROVIDER_WORKERS, can_act_for_provider

PAGE_SIZE = 25
WORKLIST_ROWS = 20  # the first rows of each worklist table; its tile and "see all" lead on


# ---------------------------------------------------------------- who is acting
def _plan(request: HttpRequest) -> Organization | None:
    org = getattr(request, "org", None)
    return org if org is not None and org.kind == OrgKind.PLAN else None


def _provider(request: HttpRequest) -> Organization | None:
    org = getattr(request, "org", None)
    return org if org is not None and org.kind in (OrgKind.CBO, OrgKind.HUB) else None


def _referrer(request: HttpRequest) -> Organization | None:
    plan = _plan(request)
    return plan if plan is not None and access.has_role(request.user, plan, PLAN_REFERRERS) else None


def _worker(request: HttpRequest) -> Organization | None:
    cbo = _provider(request)
    return cbo if cbo is not None and access.has_role(request.user, cbo, PROVIDER_WORKERS) else None


def _csv(filename: str, header: list[str], rows: Iterable[Iterable]) -> StreamingHttpResponse:
    """A streamed CSV download (bounded memory whatever the size), formula cells neutralised."""

    def lines():
        yield header
        yield from rows

    response = StreamingHttpResponse(csvsafe.stream(lines()), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ---------------------------------------------------------------- worklist and report
def _funnel_context(request: HttpRequest, plan: Organization | None) -> dict:
    """The funnel and per-CBO figures for the referrals the plan (None: every plan) made in the
    period the user picked, from the snapshot the beat task keeps (computed here only when no
    one has asked for it yet)."""
    period = request.GET.get("period")
    period = period if period in selectors.FUNNEL_PERIODS else selectors.DEFAULT_FUNNEL_PERIOD
    plan_id = plan.pk if plan is not None else None
    snapshot = NetworkSnapshot.objects.filter(key=NetworkSnapshot.key_for(plan_id, period)).first()
    if snapshot is None:
        snapshot = figures_svc.refresh_network_figures(plan_id=plan_id, period=period)
    funnel, performance = selectors.snapshot_figures(snapshot)
    return {
        "funnel": funnel,
        "performance": performance,
        "figures_at": snapshot.computed_at,
        "figures_every": settings.NETWORK_FIGURES_EVERY // 60,
        "periods": selectors.FUNNEL_PERIODS,
        "period": period,
        "funnel_caption": selectors.FUNNEL_PERIODS[period][0],
    }


@portal_view
def worklist(request: HttpRequest) -> HttpResponse:
    """CBO staff: referrals awaiting a response, authorizations running out, my services this
    week. Plans: the referral funnel and each CBO's performance."""
    # Offer only what the pages admit: logging for the provider's admins and staff, referring
    # for the plan's care coordinators and admins.
    context: dict = {
        "today": timezone.localdate(),
        "can_log": _worker(request) is not None,
        "can_refer": _referrer(request) is not None,
    }
    if (cbo := _provider(request)) is not None:
        work = selectors.cbo_worklist(request.user, cbo)
        # The first rows of each list (what needs doing next) and how many there are in all; the
        # tiles and "see all" links lead to the full lists.
        context.update(
            work=work,
            awaiting=rows_between(work.awaiting, 0, WORKLIST_ROWS),
            awaiting_count=bounded_count(work.awaiting),
            running_out=rows_between(work.running_out, 0, WORKLIST_ROWS),
            running_out_count=bounded_count(work.running_out),
            my_week=rows_between(work.my_week, 0, 100),
            week=selectors.week_bounds(),
        )
        member_svc.record_view(
            acting_user=request.user,
            where="worklist",
            members=[r.member_id for r in context["awaiting"]] + [d.member_id for d in context["my_week"]],
        )
    referrals = Referral.objects.visible_to(request.user)
    if (plan := _plan(request)) is not None:
        referrals = referrals.filter(plan=plan)
        context.update(
            _funnel_context(request, plan),
            overdue=referrals.overdue().count(),
            pending_review=referrals.filter(status=ReferralStatus.PENDING_REVIEW).count(),
            requests=Authorization.objects.visible_to(request.user)
            .filter(plan=plan, status=AuthorizationStatus.REQUESTED)
            .count(),
        )
    if cbo is None and plan is None and not access.is_platform_admin(request.user):
        raise Http404
    if cbo is None and plan is None:
        context.update(_funnel_context(request, None))
    return render(request, "referrals/worklist.html", context)


def _chart(rows: list[selectors.ReportRow]) -> dict:
    """Services delivered per county, the busiest first."""
    by_county: dict[str, int] = {}
    for r in rows:
        by_county[r.county] = by_county.get(r.county, 0) + r.services_delivered
    ranked = sorted(by_county.items(), key=lambda kv: -kv[1])
    return bar_chart(
        [county for county, _ in ranked],
        {"Services delivered": [n for _, n in ranked]},
        money=False,
        horizontal=True,
    )


@portal_view
def report(request: HttpRequest) -> HttpResponse:
    """Quarterly report by county and service: members served, services delivered, CBOs in the
    network; chart and CSV."""
    plan = _plan(request)
    if plan is None and not access.is_platform_admin(request.user):
        raise Http404
    year, quarter = selectors.current_quarter()
    try:
        year = int(request.GET.get("year", year))
        quarter = min(4, max(1, int(request.GET.get("quarter", quarter))))
    except ValueError:
        pass
    if not 1900 <= year <= 9998:  # date() takes years 1-9999, and a Q4 ends in the next year
        year = selectors.current_quarter()[0]
    deliveries = ServiceDelivery.objects.visible_to(request.user)
    if plan is not None:
        deliveries = deliveries.filter(plan=plan)
    rows = selectors.quarterly_report(deliveries, year, quarter)
    if request.GET.get("format") == "csv":
        return _csv(
            f"network-report-{year}-Q{quarter}.csv",
            ["county", "service", "members_served", "services_delivered", "units", "cbos_in_network"],
            ([r.county, r.service, r.members_served, r.services_delivered, r.units, r.cbos] for r in rows),
        )
    referrals = Referral.objects.visible_to(request.user)
    if plan is not None:
        referrals = referrals.filter(plan=plan)
    referrals = selectors.referred_in_quarter(referrals, year, quarter)
    this_year = timezone.localdate().year
    funnel, performance = selectors.network_figures(referrals)
    return render(
        request,
        "referrals/report.html",
        {
            "rows": rows,
            "year": year,
            "quarter": quarter,
            "chart": _chart(rows),
            "years": range(this_year - 2, this_year + 1),
            "funnel": funnel,
            "performance": performance,
            "funnel_caption": f"Referred in Q{quarter} {year}",
            "totals": selectors.quarter_totals(deliveries, year, quarter),
        },
    )


# ---------------------------------------------------------------- referrals
@portal_view
def referral_list(request: HttpRequest) -> HttpResponse:
    """Referrals the user can see, filtered by status, overdue and text (constant query count)."""
    referrals = Referral.objects.visible_to(request.user).for_list()
    status = request.GET.get("status", "")
    if status == "open":
        referrals = referrals.exclude(
            status__in=(ReferralStatus.DECLINED, ReferralStatus.COMPLETED, ReferralStatus.CLOSED)
        )
    elif status == "overdue":
        referrals = referrals.overdue()
    elif status in ReferralStatus.values:
        referrals = referrals.filter(status=status)
    if query := request.GET.get("q", "").strip():
        referrals = selectors.search_referrals(referrals, query)
    page = BoundedPaginator(referrals.order_by("-created_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    member_svc.record_view(
        acting_user=request.user,
        members=[r.member_id for r in page if not r.member_hidden],
        where="referral list",
    )
    return render(
        request,
        "referrals/list.html",
        {
            "page": page,
            "status": status,
            "q": query,
            "statuses": ReferralStatus.choices,
            "can_refer": _referrer(request) is not None,
            "can_record": _worker(request) is not None,
            "can_upload": _referrer(request) is not None,
        },
    )


@portal_view
@require_http_methods(["GET", "POST"])
def referral_create(request: HttpRequest) -> HttpResponse:
    """A plan care coordinator refers a member; a CBO records a self/community referral."""
    plan, cbo = _referrer(request), _worker(request)
    if plan is None and cbo is None:
        raise Http404
    form = f.ReferralForm(request.POST or None, by_plan=plan is not None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if plan is not None:
                referral = ref_svc.create_referral(
                    acting_user=request.user,
                    plan=plan,
                    cbo=data["cbo"],
                    member_details=form.member_data(),
                    service=data["service"],
                    **form.referral_data(),
                )
            else:
                referral = ref_svc.record_community_referral(
                    acting_user=request.user,
                    plan=data["plan"],
                    cbo=cbo,
                    member_details=form.member_data(),
                    service=data["service"],
                    source=data["source"],
                    **form.referral_data(),
                )
        except SERVICE_ERRORS as exc:
            errors = apply_service_error(form, exc)
        else:
            messages.success(
                request,
                f"Referral {referral.number} sent to {referral.cbo}."
                if plan
                else f"Referral {referral.number} recorded; {referral.plan} will review it.",
            )
            return redirect("referrals:detail", referral.pk)
    return render(
        request, "referrals/form.html", {"form": form, "by_plan": plan is not None, "errors": errors}
    )


@portal_view
@require_http_methods(["GET"])
def offered_services(request: HttpRequest) -> JsonResponse:
    """What the referral form offers today: the services the chosen CBO (for a plan's referral) or
    the chosen plan (for a CBO's community referral) is contracted for in the member's county, and
    each other service with why it is not offered (``contracts.selectors.offered_services``)."""
    plan, cbo = _referrer(request), _worker(request)
    if plan is None and cbo is None:
        raise Http404
    if plan is not None:
        other = (
            Organization.objects.approved_providers().filter(pk=id_or_none(request.GET.get("cbo"))).first()
        )
    else:
        other = Organization.objects.filter(kind=OrgKind.PLAN, pk=id_or_none(request.GET.get("plan"))).first()
    if other is None:
        return JsonResponse({"error": "Choose the CBO or plan first."}, status=400)
    county = County.objects.filter(name=request.GET.get("county", "")).first()
    answers = contract_selectors.offered_services(
        cbo or other, plan or other, on=timezone.localdate(), county=county
    )
    return JsonResponse(
        {
            "offered": [
                {"id": a.service.pk, "label": f.ServiceChoiceField.service_label(a.service)}
                for a in answers
                if a.covered
            ],
            "not_offered": [
                {"label": a.service.display, "reason": a.message, "code": a.reason}
                for a in answers
                if not a.covered
            ],
        }
    )


def _referral(request: HttpRequest, pk: int) -> Referral:
    return get_visible(
        Referral.objects.select_related("plan", "cbo", "cbo__hub", "member", "member__county", "service"),
        request.user,
        pk=pk,
    )


REFERRAL_ACTIONS = {
    "accept": (None, lambda r, u, d: ref_svc.accept(r, acting_user=u), "Referral accepted."),
    "decline": (f.DeclineForm, lambda r, u, d: ref_svc.decline(r, acting_user=u, **d), "Referral declined."),
    "approve": (
        None,
        lambda r, u, d: ref_svc.approve_community_referral(r, acting_user=u),
        "Referral approved.",
    ),
    "complete": (
        None,
        lambda r, u, d: ref_svc.complete(r, acting_user=u),
        "Services completed; loop closed.",
    ),
    "close": (f.CloseForm, lambda r, u, d: ref_svc.close(r, acting_user=u, **d), "Referral closed."),
    "diagnoses": (
        f.DiagnosesForm,
        lambda r, u, d: ref_svc.set_diagnoses(r, acting_user=u, codes=d["diagnosis_codes"]),
        "Diagnosis codes saved.",
    ),
    "outreach": (
        f.OutreachForm,
        lambda r, u, d: ref_svc.record_outreach(r, acting_user=u, **d),
        "Outreach logged.",
    ),
    "authorize": (f.AuthorizeForm, lambda r, u, d: auth_svc.authorize(r, acting_user=u, **d), "Authorized."),
    "request_auth": (
        f.RequestAuthorizationForm,
        lambda r, u, d: auth_svc.request_authorization(r, acting_user=u, **d),
        "Authorization requested; the plan will decide.",
    ),
}


@portal_view
@require_http_methods(["GET", "POST"])
def referral_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The referral's record: member, status and deadline, history, outreach, authorizations with
    units left, logged services; and the actions the user's role allows."""
    referral = _referral(request, pk)
    user = request.user
    forms = {name: (cls(prefix=name) if cls else None) for name, (cls, _fn, _msg) in REFERRAL_ACTIONS.items()}
    codes = ", ".join(referral.diagnosis_codes or [])
    forms["diagnoses"] = f.DiagnosesForm(prefix="diagnoses", initial={"diagnosis_codes": codes})
    errors: list[str] = []
    # A claim's fix link opens the form where its hold is fixed (?open=diagnoses).
    open_form = request.GET.get("open", "") if request.GET.get("open") in REFERRAL_ACTIONS else ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in REFERRAL_ACTIONS:
            raise Http404
        cls, fn, message = REFERRAL_ACTIONS[action]
        form = cls(request.POST, prefix=action) if cls else None
        forms[action], open_form = form, action
        if form is None or form.is_valid():
            try:
                fn(referral, user, form.cleaned_data if form else {})
            except SERVICE_ERRORS as exc:
                errors = apply_service_error(form, exc)
            else:
                messages.success(request, message)
                return redirect("referrals:detail", referral.pk)
    # A referral still hiding its member shows the CBO's typed details; the plan that owns the
    # record may open it to compare.
    member_record = (
        Member.objects.visible_to(user).filter(pk=referral.member_id).first()
        if referral.member_hidden
        else None
    )
    if not referral.member_hidden or member_record:
        member_svc.record_view(
            acting_user=user, members=[referral.member_id], where=f"referral {referral.number}"
        )
    worker = can_act_for_provider(user, referral.cbo, PROVIDER_WORKERS)
    plan_side = access.is_platform_admin(user) or access.has_role(user, referral.plan_id, PLAN_REFERRERS)
    authorizer = access.is_platform_admin(user) or access.has_role(user, referral.plan_id, PLAN_AUTHORIZERS)
    authorizations = list(
        Authorization.objects.visible_to(user).filter(referral=referral).select_related("service")
    )
    dx_editor = referral.status != ReferralStatus.DECLINED and ref_svc.can_edit_diagnoses(user, referral)
    return render(
        request,
        "referrals/detail.html",
        {
            "r": referral,
            "forms": forms,
            "errors": errors,
            "open_form": open_form,
            "worker": worker,
            "plan_side": plan_side,
            "authorizer": authorizer,
            "authorizations": authorizations,
            "dx_editor": dx_editor,
            "member_record": member_record,
            "usable": [a for a in authorizations if a.status in USABLE_AUTHORIZATION],
            "history": ReferralStatusChange.objects.filter(referral=referral).select_related("actor"),
            "outreach": OutreachAttempt.objects.visible_to(user)
            .filter(referral=referral)
            .select_related("staff"),
            "deliveries": ServiceDelivery.objects.visible_to(user).filter(referral=referral).for_list(),
            "awaiting": referral.status in AWAITING_RESPONSE,
            "withdrawn_consents": consent_svc.revoked(referral.member, on=timezone.localdate())
            if referral.status in OPEN_STATUSES and not referral.member_hidden
            else [],
            "offer_problem": ref_svc.referral_offer_problem(referral)
            if worker and referral.status in AWAITING_RESPONSE
            else "",
            "can_close": referral.status
            in (
                ReferralStatus.ACCEPTED,
                ReferralStatus.IN_PROGRESS,
                ReferralStatus.PENDING_REVIEW,
                ReferralStatus.RECEIVED,
            ),
            # The log form logs for the active organization's referrals (``_worker``), not for every
            # provider a platform admin may act for.
            "can_log": _worker(request) is not None
            and referral.status in (ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS),
        },
    )


# ---------------------------------------------------------------- service logging
def _loggable(request: HttpRequest, cbo: Organization):
    return (
        Referral.objects.visible_to(request.user)
        .filter(
            Q(cbo=cbo) | Q(cbo__hub=cbo), status__in=(ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS)
        )
        .select_related("member", "service")
        .order_by("member__last_name", "member__first_name", "pk")
    )


@portal_view
@require_http_methods(["GET", "POST"])
def log_service(request: HttpRequest) -> HttpResponse:
    """The phone form: pick the member, the day defaults to today, units or minutes, where, a note;
    tick several days for daily services; "repeat last" fills it from the last entry."""
    cbo = _worker(request)
    if cbo is None:
        raise Http404
    referrals = _loggable(request, cbo)
    last = selectors.last_delivery(request.user, cbo)
    initial: dict = {}
    if request.GET.get("referral"):
        initial["referral"] = request.GET["referral"]
    if request.GET.get("repeat") and last is not None:
        initial.update(
            referral=last.referral_id,
            units=last.units if not last.minutes else None,
            minutes=last.minutes,
            place_of_service=last.place_of_service,
            note=last.note,
        )
    form = f.LogServiceForm(request.POST or None, referrals=referrals, initial=initial)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        days = [date.fromisoformat(d) for d in data.pop("days")]
        referral = data.pop("referral")
        try:
            if days:
                data.pop("service_date")
                made = delivery_svc.log_series(
                    acting_user=request.user, referral=referral, dates=days, **data
                )
                messages.success(request, f"Logged {len(made)} days for {referral.member.full_name}.")
            else:
                entry = delivery_svc.log_service(acting_user=request.user, referral=referral, **data)
                messages.success(
                    request,
                    f"Logged {entry.units.normalize():f} × {entry.service.name} for "
                    f"{referral.member.full_name} on {entry.service_date:%b %-d}.",
                )
        except SERVICE_ERRORS as exc:
            errors = apply_service_error(form, exc)
        else:
            return redirect("referrals:log_service")
    start, end = selectors.week_bounds()
    recent = list(
        ServiceDelivery.objects.visible_to(request.user)
        .filter(staff=request.user)
        .for_list()
        .order_by("-created_at", "-pk")[:5]
    )
    return render(
        request,
        "referrals/log_service.html",
        {
            "form": form,
            "errors": errors,
            "last": last,
            "recent": recent,
            "has_referrals": referrals.exists(),
        },
    )


@portal_view
@require_http_methods(["GET", "POST"])
def delivery_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One logged entry: edit or void until billed; after that only a correction (void + new
    entry). Both stay in the history."""
    entry = get_visible(
        ServiceDelivery.objects.for_list().select_related("replaces", "voided_by"), request.user, pk=pk
    )
    worker = can_act_for_provider(request.user, entry.cbo, PROVIDER_WORKERS)
    initial = {
        "service_date": entry.service_date,
        "units": entry.units,
        "place_of_service": entry.place_of_service,
        "note": entry.note,
    }
    edit_form = f.EditDeliveryForm(prefix="edit", initial=initial)
    void_form = f.VoidForm(prefix="void")
    errors: list[str] = []
    if request.method == "POST":
        if not worker:
            raise Http404
        action = request.POST.get("action")
        form = None
        try:
            if action == "void":
                form = void_form = f.VoidForm(request.POST, prefix="void")
                if form.is_valid():
                    delivery_svc.void_delivery(entry, acting_user=request.user, **form.cleaned_data)
                    messages.success(request, "Entry voided; it stays in the history.")
                    return redirect("referrals:delivery", entry.pk)
            elif action in ("edit", "correct"):
                form = edit_form = f.EditDeliveryForm(request.POST, prefix="edit")
                if form.is_valid():
                    data = dict(form.cleaned_data)
                    reason = data.pop("reason")
                    if action == "edit":
                        delivery_svc.edit_delivery(entry, acting_user=request.user, changes=data)
                        messages.success(request, "Entry saved.")
                        return redirect("referrals:delivery", entry.pk)
                    if not reason:
                        form.add_error("reason", "Say why the entry is corrected.")
                    else:
                        _old, new = delivery_svc.correct_delivery(
                            entry, acting_user=request.user, reason=reason, **data
                        )
                        messages.success(
                            request, "Corrected: the old entry is voided and the new one logged."
                        )
                        return redirect("referrals:delivery", new.pk)
            else:
                raise Http404
        except SERVICE_ERRORS as exc:
            errors = apply_service_error(form, exc)
    member_svc.record_view(
        acting_user=request.user, members=[entry.member_id], where=f"service entry #{entry.pk}"
    )
    return render(
        request,
        "referrals/delivery.html",
        {
            "entry": entry,
            "worker": worker,
            "edit_form": edit_form,
            "void_form": void_form,
            "errors": errors,
            "corrections": ServiceDelivery.objects.visible_to(request.user)
            .filter(replaces=entry)
            .select_related("staff"),
        },
    )


# ---------------------------------------------------------------- authorizations
@portal_view
def authorization_list(request: HttpRequest) -> HttpResponse:
    auths = Authorization.objects.visible_to(request.user).for_list()
    status = request.GET.get("status", "")
    if status in AuthorizationStatus.values:
        auths = auths.filter(status=status)
    page = BoundedPaginator(auths.order_by("-created_at", "-pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    member_svc.record_view(
        acting_user=request.user, members=[a.member_id for a in page], where="authorizations"
    )
    return render(
        request,
        "referrals/authorizations.html",
        {"page": page, "status": status, "statuses": AuthorizationStatus.choices},
    )


@portal_view
@require_http_methods(["GET", "POST"])
def authorization_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An authorization; the plan decides a CBO's request here."""
    auth = get_visible(Authorization.objects.for_list().select_related("extends"), request.user, pk=pk)
    decider = auth.status == AuthorizationStatus.REQUESTED and (
        access.is_platform_admin(request.user)
        or access.has_role(request.user, auth.plan_id, PLAN_AUTHORIZERS)
    )
    form = f.DecideForm(request.POST or None, initial={"units_approved": None})
    errors: list[str] = []
    if request.method == "POST":
        if not decider:
            raise Http404
        if form.is_valid():
            try:
                auth_svc.decide(auth, acting_user=request.user, **form.cleaned_data)
            except SERVICE_ERRORS as exc:
                errors = apply_service_error(form, exc)
            else:
                messages.success(request, "Decision saved.")
                return redirect("referrals:authorization", auth.pk)
    member_svc.record_view(
        acting_user=request.user, members=[auth.member_id], where=f"authorization #{auth.pk}"
    )
    return render(
        request,
        "referrals/authorization.html",
        {
            "a": auth,
            "form": form,
            "decider": decider,
            "errors": errors,
            "history": AuthorizationStatusChange.objects.filter(authorization=auth).select_related("actor"),
            "deliveries": ServiceDelivery.objects.visible_to(request.user)
            .filter(authorization=auth)
            .for_list(),
        },
    )


# ---------------------------------------------------------------- members
def _page_number(request: HttpRequest) -> int:
    """The page asked for, 1 when the parameter is missing or not a number (``get_page``'s rule)."""
    raw = request.GET.get("page", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 7 else 1


@portal_view
def member_list(request: HttpRequest) -> HttpResponse:
    """Members the user may see, found by CIN or part of a name (a bounded count)."""
    members = Member.objects.visible_to(request.user).select_related("county")
    cap = PAGE_COUNT_CAP
    if query := request.GET.get("q", "").strip():
        members = selectors.search_members(members, query)
        # A part of a name can match a tenth of all members ("ana": Ana, Diana, Mariana, ...), and
        # counting them all means reading each one: a search counts only as far as the next page.
        cap = (_page_number(request) + 1) * PAGE_SIZE
    page = BoundedPaginator(members.order_by("last_name", "first_name", "pk"), PAGE_SIZE, cap=cap).get_page(
        request.GET.get("page")
    )
    member_svc.record_view(acting_user=request.user, members=list(page), where="member list")
    return render(request, "referrals/members.html", {"page": page, "q": query})


def _period_form(enrollment, plan: Organization | None) -> f.CoverageForm | None:
    """The change form of a coverage period, for the plan that owns it."""
    if plan is None or enrollment.plan_id != plan.pk:
        return None
    initial = {name: getattr(enrollment, name) for name in member_svc.ENROLLMENT_FIELDS}
    return f.CoverageForm(prefix=f"period{enrollment.pk}", initial=initial)


@portal_view
@require_http_methods(["GET", "POST"])
def member_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The member's record. Their plan edits it and decides corrections; a CBO that serves them
    proposes corrections; everyone who may see the member sees the record's changes."""
    member = get_visible(Member.objects.select_related("county"), request.user, pk=pk)
    user = request.user
    owner = member_svc.editing_plan(user, member)
    proposer = member_svc.proposing_provider(user, member, getattr(request, "org", None))
    edit_form = f.MemberRecordForm(prefix="edit", proposing=False) if owner else None
    propose_form = f.MemberRecordForm(prefix="propose", proposing=True) if proposer else None
    coverage_plan = member_svc.coverage_plan_or_none(user, getattr(request, "org", None))
    coverage_form = f.CoverageForm(prefix="coverage") if coverage_plan else None
    consent_org = consent_svc.recording_organization(user, member, getattr(request, "org", None))
    consent_form = (
        f.ConsentForm(prefix="consent", initial={"on": timezone.localdate()}) if consent_org else None
    )
    errors: list[str] = []
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "edit" and owner:
                edit_form = f.MemberRecordForm(request.POST, prefix="edit", proposing=False)
                if edit_form.is_valid():
                    member_svc.update_member(member, acting_user=user, plan=owner, **edit_form.details())
                    messages.success(request, "Member record saved.")
                    return redirect("referrals:member", member.pk)
            elif action == "propose" and proposer:
                propose_form = f.MemberRecordForm(request.POST, prefix="propose", proposing=True)
                if propose_form.is_valid():
                    member_svc.propose_correction(
                        member,
                        acting_user=user,
                        organization=proposer,
                        note=propose_form.cleaned_data["note"],
                        **propose_form.details(),
                    )
                    messages.success(request, "Correction sent to the member's plan for review.")
                    return redirect("referrals:member", member.pk)
            elif action == "decide" and owner:
                decision = f.CorrectionDecisionForm(request.POST)
                if decision.is_valid():
                    correction = get_object_or_404(member.corrections, pk=decision.cleaned_data["correction"])
                    accept = decision.cleaned_data["decision"] == "accept"
                    member_svc.decide_correction(
                        correction, acting_user=user, accept=accept, note=decision.cleaned_data["note"]
                    )
                    messages.success(
                        request,
                        "Correction accepted; the record is updated." if accept else "Correction rejected.",
                    )
                    return redirect("referrals:member", member.pk)
                errors = ["Choose accept or reject."]
            elif action == "coverage" and coverage_plan:
                coverage_form = f.CoverageForm(request.POST, prefix="coverage")
                if coverage_form.is_valid():
                    member_svc.record_enrollment(
                        member, acting_user=user, plan=coverage_plan, **coverage_form.cleaned_data
                    )
                    messages.success(request, "Coverage recorded.")
                    return redirect("referrals:member", member.pk)
            elif action == "consent" and consent_org:
                consent_form = f.ConsentForm(request.POST, request.FILES, prefix="consent")
                if consent_form.is_valid():
                    data = {k: v for k, v in consent_form.cleaned_data.items() if k != "document"}
                    consent_svc.record_consent(
                        member,
                        acting_user=user,
                        organization=consent_org,
                        document=consent_form.cleaned_data["document"],
                        **data,
                    )
                    messages.success(request, "Consent recorded.")
                    return redirect("referrals:member", member.pk)
            elif action in ("coverage_change", "coverage_end"):
                enrollment = get_object_or_404(
                    member.enrollments, pk=id_or_none(request.POST.get("enrollment"))
                )
                form = (
                    f.CoverageForm(request.POST, prefix=f"period{enrollment.pk}")
                    if action == "coverage_change"
                    else f.CoverageEndForm(request.POST)
                )
                if form.is_valid():
                    fields = {k: v for k, v in form.cleaned_data.items() if k != "enrollment"}
                    member_svc.change_enrollment(enrollment, acting_user=user, **fields)
                    messages.success(
                        request, "Coverage ended." if action == "coverage_end" else "Coverage changed."
                    )
                    return redirect("referrals:member", member.pk)
                errors = [f"{form.fields[k].label or k}: {' '.join(v)}" for k, v in form.errors.items()]
            else:
                raise Http404
        except SERVICE_ERRORS as exc:
            form = {
                "edit": edit_form,
                "propose": propose_form,
                "coverage": coverage_form,
                "consent": consent_form,
            }.get(action)
            errors = apply_service_error(form, exc)
    member_svc.record_view(acting_user=user, members=[member], where="member record")
    periods, today = selectors.coverage(member), timezone.localdate()
    return render(
        request,
        "referrals/member.html",
        {
            "m": member,
            "errors": errors,
            "owner": owner,
            "edit_form": edit_form,
            "propose_form": propose_form,
            "corrections": member.corrections.select_related("organization", "proposed_by", "decided_by"),
            "changes": member_svc.record_changes(member)[:50],
            "referrals": Referral.objects.visible_to(user).filter(member=member).for_list(),
            "coverage": [(e, _period_form(e, coverage_plan), e.covers(today)) for e in periods],
            "eligibility": selectors.eligibility(member, periods=periods),
            "coverage_form": coverage_form,
            "consents": member.consents.select_related("organization", "recorded_by").order_by(
                "-on", "-created_at"
            ),
            "consent_form": consent_form,
            "consent_org": consent_org,
            "today": today,
            "deliveries": ServiceDelivery.objects.visible_to(user).filter(member=member).for_list()[:50],
        },
    )


@portal_view
def consent_document(request: HttpRequest, pk: int, consent_pk: int) -> FileResponse:
    """The signed consent form, to whoever may see the member (audited)."""
    member = get_visible(Member.objects.all(), request.user, pk=pk)
    consent = get_object_or_404(member.consents.exclude(document=""), pk=consent_pk)
    member_svc.record_view(acting_user=request.user, members=[member], where="consent form")
    return FileResponse(
        consent.document.open("rb"),
        as_attachment=True,
        filename=consent.document_name,
        content_type=consent.content_type or "application/octet-stream",
    )


# ---------------------------------------------------------------- eligibility rosters
@portal_view
@require_http_methods(["GET", "POST"])
def roster_list(request: HttpRequest) -> HttpResponse:
    """A plan's eligibility rosters, newest first, and the upload form for its coverage editors."""
    plan = member_svc.coverage_plan_or_none(request.user, getattr(request, "org", None))
    rosters = RosterImport.objects.visible_to(request.user).select_related("plan", "uploaded_by")
    today = timezone.localdate()
    form = f.RosterForm(
        request.POST or None, request.FILES or None, initial={"roster_date": today.replace(day=1)}
    )
    errors: list[str] = []
    if request.method == "POST":
        if plan is None:
            raise Http404
        if form.is_valid():
            try:
                roster, created = roster_svc.start_roster(
                    acting_user=request.user,
                    plan=plan,
                    upload=form.cleaned_data["file"],
                    roster_date=form.cleaned_data["roster_date"],
                )
            except SERVICE_ERRORS as exc:
                errors = apply_service_error(form, exc)
            else:
                if not created:
                    messages.info(request, "This roster was uploaded before; here is its result.")
                return redirect("referrals:roster", roster.pk)
    page = Paginator(rosters, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "referrals/rosters.html",
        {"page": page, "form": form if plan else None, "plan": plan, "errors": errors},
    )


@portal_view
def roster_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A roster's progress (polled) while it runs; then what it changed, or every bad row."""
    roster = get_visible(RosterImport.objects.select_related("plan", "uploaded_by"), request.user, pk=pk)
    row_errors = Paginator(roster.row_errors.all(), 200).get_page(request.GET.get("page"))
    return render(request, "referrals/roster_detail.html", {"roster": roster, "row_errors": row_errors})


@portal_view
def roster_progress(request: HttpRequest, pk: int) -> JsonResponse:
    roster = get_visible(RosterImport.objects.all(), request.user, pk=pk)
    return JsonResponse(
        {
            "status": roster.status,
            "status_label": roster.get_status_display(),
            "percent": roster.percent,
            "text": roster.progress_text,
            "finished": roster.finished,
        }
    )


# ---------------------------------------------------------------- bulk files
@portal_view
@require_http_methods(["GET", "POST"])
def import_create(request: HttpRequest) -> HttpResponse:
    plan = _referrer(request)
    if plan is None:
        raise Http404
    form = f.UploadForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            batch, created = import_svc.start_import(
                acting_user=request.user,
                plan=plan,
                upload=form.cleaned_data["file"],
                cbo=form.cleaned_data["cbo"],
            )
        except SERVICE_ERRORS as exc:
            errors = apply_service_error(form, exc)
        else:
            if not created:
                messages.info(request, "This file was uploaded before; here is its result.")
            return redirect("referrals:import", batch.pk)
    recent = ReferralImport.objects.visible_to(request.user).filter(plan=plan)[:10]
    return render(
        request,
        "referrals/import_form.html",
        {
            "form": form,
            "errors": errors,
            "recent": recent,
            "columns": import_svc.REQUIRED,
            "optional": import_svc.OPTIONAL,
        },
    )


@portal_view
@require_http_methods(["GET", "POST"])
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Progress (polled) while running; then the result with every bad row and its line."""
    batch = get_visible(ReferralImport.objects.select_related("cbo"), request.user, pk=pk)
    errors: list[str] = []
    if request.method == "POST":
        try:
            import_svc.import_valid_rows(batch, acting_user=request.user)
        except SERVICE_ERRORS as exc:
            errors = apply_service_error(None, exc)
        else:
            messages.success(request, "Importing the valid rows.")
            return redirect("referrals:import", batch.pk)
    row_errors = Paginator(batch.row_errors.all(), 200).get_page(request.GET.get("page"))
    return render(
        request, "referrals/import_detail.html", {"batch": batch, "row_errors": row_errors, "errors": errors}
    )


@portal_view
def import_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """The small JSON the progress bar polls."""
    batch = get_visible(ReferralImport.objects.all(), request.user, pk=pk)
    return JsonResponse(
        {
            "status": batch.status,
            "status_label": batch.get_status_display(),
            "percent": batch.percent,
            "processed": batch.processed_rows,
            "total": batch.total_rows,
            "errors": batch.error_rows,
            "text": batch.progress_text,
            "finished": batch.finished,
        }
    )


# ---------------------------------------------------------------- return files
def _month(request: HttpRequest) -> tuple[int, int]:
    today = timezone.localdate()
    previous = today.replace(day=1) - timedelta(days=1)
    try:
        year, month = (int(x) for x in request.GET.get("month", f"{previous:%Y-%m}").split("-"))
        date(year, month, 1)
        if not 1900 <= year <= 9998:  # the files reach into the next month; date() stops at 9999
            raise ValueError(year)
    except (ValueError, OverflowError):  # date(10**20, 1, 1) overflows rather than refusing
        year, month = previous.year, previous.month
    return year, month


@portal_view
def return_files(request: HttpRequest) -> HttpResponse:
    """Monthly return files per plan: referral status file and outreach tracker, as CSV."""
    referrals = Referral.objects.visible_to(request.user)
    plans = Organization.objects.filter(kind=OrgKind.PLAN, pk__in=referrals.values("plan_id")).order_by(
        "legal_name"
    )
    year, month = _month(request)
    plan_id = request.GET.get("plan", "")
    if (plan_pk := id_or_none(plan_id)) is not None:
        referrals = referrals.filter(plan_id=plan_pk)
    kind = request.GET.get("file", "")
    if kind in ("status", "outreach"):
        rows = (selectors.return_file_rows if kind == "status" else selectors.outreach_rows)(
            referrals, year, month
        )
        columns = selectors.RETURN_FILE_COLUMNS if kind == "status" else selectors.OUTREACH_COLUMNS
        # One audit row for the download, naming every member in the file (ids only, one query).
        source, field = (
            (selectors.return_file_referrals, "member_id")
            if kind == "status"
            else (selectors.outreach_attempts, "referral__member_id")
        )
        in_file = source(referrals, year, month).order_by().values_list(field, flat=True).distinct()
        member_svc.record_view(
            acting_user=request.user,
            members=in_file,
            where=f"downloaded the {kind} return file for {year}-{month:02d}",
        )
        return _csv(
            f"{'return' if kind == 'status' else 'outreach'}-{year}-{month:02d}"
            f"{f'-plan{plan_pk}' if plan_pk else ''}.csv",
            columns,  # the id, never raw input
            ([row[c] for c in columns] for row in rows),
        )
    return render(
        request,
        "referrals/return_files.html",
        {
            "plans": plans,
            "plan_id": plan_id,
            "month": f"{year}-{month:02d}",
            "status_count": selectors.return_file_referrals(referrals, year, month).count(),
            "outreach_count": selectors.outreach_attempts(referrals, year, month).count(),
        },
    )
