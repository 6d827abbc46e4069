"""The portal's pages: home, onboarding, documents, team, review queue, audit log, account."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from cbo_portal import access, two_factor
from cbo_portal.badinput import posted_id
from cbo_portal.choices import (
    ADMIN_ROLES,
    REQUIRED_DOCUMENTS,
    ROLES_BY_KIND,
    AuditAction,
    CalAIMService,
    DocumentKind,
    OnboardingStatus,
    OrgKind,
    Role,
)
from cbo_portal.dashboard import tiles_for
from cbo_portal.forms import DecisionForm, DocumentForm, InviteForm, ProfileForm, TokenForm
from cbo_portal.middleware import SESSION_KEY
from cbo_portal.models import ApiToken, AuditEvent, Document, Invitation, Membership, Organization
from cbo_portal.services import onboarding, organizations, people
from cbo_portal.views.shell import SERVICE_ERRORS, apply_service_error, get_visible, portal_view


@portal_view
def home(request: HttpRequest) -> HttpResponse:
    """Land each role where its work is."""
    org = request.org
    if org is None:
        if access.is_platform_admin(request.user):
            return redirect("review_queue")
        return render(request, "cbo_portal/no_organization.html")
    if org.is_provider and not org.is_approved:
        return redirect("onboarding")
    context = {"org": org, "checklist": onboarding.checklist(org) if org.is_provider else None}
    if access.can_review(request.user):
        pending = Organization.objects.visible_to(request.user).filter(
            onboarding_status__in=[OnboardingStatus.SUBMITTED, OnboardingStatus.IN_REVIEW]
        )
        context["pending_reviews"] = pending.count()
    context["team_size"] = Membership.objects.active().filter(organization=org).count()
    context["tiles"] = tiles_for(request)
    return render(request, "cbo_portal/home.html", context)


@portal_view
@require_POST
def switch_organization(request: HttpRequest) -> HttpResponse:
    org_id = posted_id(request.POST, "organization")
    if org_id not in access.member_org_ids(request.user):
        raise Http404
    request.session[SESSION_KEY] = org_id
    return redirect("home")


@portal_view
@require_http_methods(["GET", "POST"])
def onboarding_page(request: HttpRequest) -> HttpResponse:
    """The CBO's checklist, profile form, documents and submit button on one page."""
    org = request.org
    if org is None or not org.is_provider:
        raise Http404
    editable = org.onboarding_status in organizations.EDITABLE_STATUSES and access.has_role(
        request.user, org, ADMIN_ROLES
    )
    profile_form = ProfileForm(instance=org, initial={"counties": org.counties.all()}, prefix="profile")
    document_form = DocumentForm(prefix="doc")
    errors: list[str] = []
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "profile":
                profile_form = ProfileForm(
                    request.POST, instance=Organization.objects.get(pk=org.pk), prefix="profile"
                )
                if profile_form.is_valid():
                    data = {f: profile_form.cleaned_data[f] for f in ProfileForm.Meta.fields}
                    organizations.update_profile(
                        org,
                        acting_user=request.user,
                        changes=data,
                        counties=profile_form.cleaned_data["counties"],
                    )
                    messages.success(request, "Profile saved.")
                    return redirect("onboarding")
            elif action == "document":
                document_form = DocumentForm(request.POST, request.FILES, prefix="doc")
                if document_form.is_valid():
                    onboarding.upload_document(
                        org,
                        acting_user=request.user,
                        kind=document_form.cleaned_data["kind"],
                        upload=document_form.cleaned_data["file"],
                    )
                    messages.success(request, "Document uploaded.")
                    return redirect("onboarding")
            elif action == "submit":
                onboarding.submit(org, acting_user=request.user)
                messages.success(request, "Application submitted. A reviewer will look at it shortly.")
                return redirect("onboarding")
        except SERVICE_ERRORS as exc:
            form = {"profile": profile_form, "document": document_form}.get(action or "")
            errors = apply_service_error(form, exc)
    org.refresh_from_db()
    items = onboarding.checklist(org)
    last_comment = org.onboarding_history.exclude(comment="").order_by("-created_at").first()
    documents = list(org.documents.filter(superseded=False).select_related("uploaded_by"))
    return render(
        request,
        "cbo_portal/onboarding.html",
        {
            "org": org,
            "checklist": items,
            "ready": all(i.done for i in items),
            "done_count": sum(i.done for i in items),
            "profile_form": profile_form,
            "document_form": document_form,
            "documents": documents,
            "document_rows": _document_rows(documents),
            "services": _service_labels(org),
            "history": org.onboarding_history.select_related("actor"),
            "last_comment": last_comment,
            "editable": editable,
            "errors": errors,
        },
    )


def _service_labels(org: Organization) -> list[str]:
    """The names of the services an organization offers, in catalog order."""
    offered = set(org.services_offered or [])
    known = [label for value, label in CalAIMService.choices if value in offered]
    return known + sorted(offered - set(CalAIMService.values))


def _document_rows(documents: list[Document]) -> list[dict]:
    """One row per required document (uploaded or still missing), then any extra uploads."""
    by_kind = {d.kind: d for d in documents}
    rows = [
        {"label": DocumentKind(kind).label, "document": by_kind.get(kind), "required": True}
        for kind in REQUIRED_DOCUMENTS
    ]
    rows += [
        {"label": d.get_kind_display(), "document": d, "required": False}
        for d in documents
        if d.kind not in REQUIRED_DOCUMENTS
    ]
    return rows


@portal_view
def document_download(request: HttpRequest, pk: int) -> FileResponse:
    document = get_visible(Document.objects.select_related("organization"), request.user, pk=pk)
    onboarding.record_download(document, acting_user=request.user)
    return FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=document.original_name,
        content_type=document.content_type,
    )


@portal_view
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    """Members and invitations of the active organization; admins invite and manage."""
    org = request.org
    if org is None:
        raise Http404
    is_admin = access.has_role(request.user, org, ADMIN_ROLES) or access.is_platform_admin(request.user)
    form = InviteForm(request.POST or None, allowed_roles=ROLES_BY_KIND[org.kind])
    errors: list[str] = []
    if request.method == "POST":
        try:
            if request.POST.get("action") == "revoke":
                invitation = get_visible(
                    Invitation.objects.select_related("organization"),
                    request.user,
                    pk=posted_id(request.POST, "invitation"),
                    organization=org,
                )
                people.revoke_invitation(invitation, acting_user=request.user)
                messages.success(request, f"Invitation for {invitation.email} withdrawn.")
                return redirect("team")
            if request.POST.get("action") in ("deactivate", "activate", "role"):
                membership = get_visible(
                    Membership.objects.select_related("organization", "user"),
                    request.user,
                    pk=posted_id(request.POST, "membership"),
                    organization=org,
                )
                action = request.POST["action"]
                people.change_membership(
                    membership,
                    acting_user=request.user,
                    is_active={"deactivate": False, "activate": True}.get(action),
                    role=request.POST.get("role") if action == "role" else None,
                )
                messages.success(request, f"Updated {membership.user.email}.")
                return redirect("team")
            if form.is_valid():
                _invitation, link = people.invite(org, acting_user=request.user, **form.cleaned_data)
                messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
                return redirect("team")
        except SERVICE_ERRORS as exc:
            errors = apply_service_error(form, exc)
    return render(
        request,
        "cbo_portal/team.html",
        {
            "org": org,
            "members": Membership.objects.filter(organization=org)
            .select_related("user")
            .order_by("user__email"),
            "invitations": Invitation.objects.filter(
                organization=org, accepted_at__isnull=True, revoked_at__isnull=True
            ).select_related("invited_by")[:50],
            "form": form,
            "is_admin": is_admin,
            "roles": [(r, Role(r).label) for r in ROLES_BY_KIND[org.kind]],
            "ttl_hours": settings.INVITATION_TTL_HOURS,
            "errors": errors,
        },
    )


@portal_view
def review_queue(request: HttpRequest) -> HttpResponse:
    """Applications waiting for a decision, oldest first, plus recent decisions."""
    if not access.can_review(request.user):
        raise Http404
    orgs = Organization.objects.visible_to(request.user).filter(kind__in=[OrgKind.CBO, OrgKind.HUB])
    status = request.GET.get("status", "open")
    if status == "open":
        orgs = orgs.filter(
            onboarding_status__in=[OnboardingStatus.SUBMITTED, OnboardingStatus.IN_REVIEW]
        ).order_by("submitted_at")
    elif status in OnboardingStatus.values:
        orgs = orgs.filter(onboarding_status=status).order_by("-updated_at")
    if query := request.GET.get("q", "").strip():
        orgs = orgs.filter(legal_name__icontains=query) | orgs.filter(npi=query)
    page = Paginator(orgs.prefetch_related("counties"), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "cbo_portal/review_queue.html",
        {"page": page, "status": status, "q": query, "statuses": OnboardingStatus.choices},
    )


@portal_view
@require_http_methods(["GET", "POST"])
def review_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if not access.can_review(request.user):
        raise Http404
    org = get_visible(Organization.objects.filter(kind__in=[OrgKind.CBO, OrgKind.HUB]), request.user, pk=pk)
    form = DecisionForm(request.POST or None)
    errors: list[str] = []
    if request.method == "POST":
        try:
            if request.POST.get("action") == "start_review":
                onboarding.start_review(org, acting_user=request.user)
                messages.success(request, "Review started.")
                return redirect("review_detail", pk=org.pk)
            if form.is_valid():
                org = onboarding.decide(org, acting_user=request.user, **form.cleaned_data)
                messages.success(request, f"{org} is now {org.get_onboarding_status_display().lower()}.")
                return redirect("review_queue")
        except SERVICE_ERRORS as exc:
            errors = apply_service_error(form, exc)
    return render(
        request,
        "cbo_portal/review_detail.html",
        {
            "org": org,
            "checklist": onboarding.checklist(org),
            "documents": org.documents.filter(superseded=False),
            "services": _service_labels(org),
            "history": org.onboarding_history.select_related("actor"),
            "form": form,
            "decidable": org.onboarding_status in (OnboardingStatus.SUBMITTED, OnboardingStatus.IN_REVIEW),
            "errors": errors,
        },
    )


@portal_view
def audit_log(request: HttpRequest) -> HttpResponse:
    """Org admins see their organization's entries; platform admins see everything."""
    events = AuditEvent.objects.visible_to(request.user).select_related("actor", "organization")
    if not access.admin_org_ids(request.user) and not access.is_platform_admin(request.user):
        raise Http404
    action = request.GET.get("action", "")
    if action in AuditAction.values:
        events = events.filter(action=action)
    if query := request.GET.get("q", "").strip():
        events = events.filter(summary__icontains=query)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    for e in page:
        e.sentence = audit_sentence(e)
    return render(
        request,
        "cbo_portal/audit_log.html",
        {"page": page, "actions": AuditAction.choices, "action": action, "q": query},
    )


_VERB = re.compile(r"^(?:[A-Z][a-z]+ed|Built|Sent|Chose|Made|Took|Gave|Set|Wrote|Read)\b")


def audit_sentence(event: AuditEvent) -> str:
    """The entry as a sentence a person reads: "Jamal Brooks logged 1 × Meals for Rosa Alvarez",
    or, for a summary that names its object first, "Claim 00042: held → ready (by Jamal Brooks)"."""
    who = (event.actor.get_full_name() or event.actor.email) if event.actor_id else "The system"
    summary = event.summary.rstrip(".")
    if _VERB.match(summary):
        return f"{who} {summary[0].lower()}{summary[1:]}."
    return f"{summary} ({'automatically' if not event.actor_id else 'by ' + who})."


@portal_view
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """Memberships, two-factor, personal API tokens."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    form = TokenForm(request.POST or None)
    new_key = None
    errors: list[str] = []
    if request.method == "POST":
        try:
            if request.POST.get("action") == "revoke":
                token = get_visible(ApiToken.objects.all(), request.user, pk=posted_id(request.POST, "token"))
                people.revoke_api_token(token, acting_user=request.user)
                messages.success(request, f"Token {token.name} revoked.")
                return redirect("account")
            if refusal := two_factor.token_creation_refusal(request):
                errors = [refusal]
            elif form.is_valid() and request.org is not None:
                _token, new_key = people.create_api_token(
                    acting_user=request.user, organization=request.org, name=form.cleaned_data["name"]
                )
                form = TokenForm()
        except SERVICE_ERRORS as exc:
            errors = apply_service_error(form, exc)
    return render(
        request,
        "cbo_portal/account.html",
        {
            "memberships": access.memberships(request.user),
            "two_factor_on": TOTPDevice.objects.filter(user=request.user, confirmed=True).exists(),
            "tokens": ApiToken.objects.visible_to(request.user).select_related("organization"),
            "form": form,
            "new_key": new_key,
            "errors": errors,
        },
    )
