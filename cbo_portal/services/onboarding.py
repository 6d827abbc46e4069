"""CBO onboarding: the checklist, documents, and the application's state machine.

    draft ──submit──▶ submitted ──start review──▶ in review ──▶ approved
      ▲                                                    ├──▶ changes requested ──submit──▶ submitted
      └────────────────────────────────────────────────────┴──▶ rejected (final)

Only a complete checklist can be submitted. Reviewers (plan admins, plan contract managers,
platform admins) decide; requesting changes or rejecting needs a comment. Every move is
recorded with actor, time and comment, audited, and emailed to the CBO's admins.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone

from cbo_portal import access
from cbo_portal.choices import (
    REQUIRED_DOCUMENTS,
    REVIEWER_ROLES,
    AuditAction,
    DocumentKind,
    OnboardingStatus,
    Role,
)
from cbo_portal.models import Document, Membership, OnboardingTransition, Organization
from cbo_portal.services import audit
from cbo_portal.services.notifications import email_after_commit
from cbo_portal.statemachine import check_transition

S = OnboardingStatus
TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.DRAFT: (S.SUBMITTED,),
    S.CHANGES_REQUESTED: (S.SUBMITTED,),
    S.SUBMITTED: (S.IN_REVIEW,),
    S.IN_REVIEW: (S.APPROVED, S.CHANGES_REQUESTED, S.REJECTED),
    S.APPROVED: (),
    S.REJECTED: (),
}
DECISIONS = (S.APPROVED, S.CHANGES_REQUESTED, S.REJECTED)

# What an upload must start with to be what it claims (we do not trust the browser's type).
_SIGNATURES = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}
_EXTENSIONS = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: str
    done: bool
    hint: str


def checklist(org: Organization) -> list[ChecklistItem]:
    """What a CBO still has to supply before it can submit its application."""
    missing_profile = [
        label
        for field, label in (
            ("legal_name", "legal name"),
            ("tin", "TIN/EIN"),
            ("npi", "NPI"),
            ("taxonomy_code", "taxonomy code"),
            ("service_street", "service address"),
            ("service_city", "city"),
            ("service_zip", "ZIP code"),
            ("phone", "phone"),
            ("contact_name", "contact person"),
            ("contact_email", "contact email"),
        )
        if not getattr(org, field)
    ]
    current_kinds = set(org.documents.filter(superseded=False).values_list("kind", flat=True))
    items = [
        ChecklistItem(
            "profile",
            "Organization profile",
            not missing_profile,
            "Missing: " + ", ".join(missing_profile) if missing_profile else "Complete",
        )
    ]
    for kind in REQUIRED_DOCUMENTS:
        done = kind in current_kinds
        items.append(
            ChecklistItem(
                f"doc_{kind}",
                DocumentKind(kind).label,
                done,
                "Uploaded" if done else "Upload a PDF, PNG or JPEG",
            )
        )
    has_services = bool(org.services_offered)
    has_counties = org.counties.exists()
    hint = (
        "Complete"
        if has_services and has_counties
        else "Choose "
        + " and ".join(
            x
            for x, ok in (("the services you offer", has_services), ("the counties you serve", has_counties))
            if not ok
        )
    )
    items.append(ChecklistItem("services", "Services and counties", has_services and has_counties, hint))
    return items


def _size(n: int) -> str:
    """A byte count as people read it (``10.0 MB``, ``900 bytes``)."""
    return filesizeformat(n).replace("\xa0", " ")


def _sniff_content_type(upload: UploadedFile) -> str | None:
    name = (upload.name or "").lower()
    ext = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    claimed = _EXTENSIONS.get(ext)
    if claimed is None:
        return None
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    return claimed if head.startswith(_SIGNATURES[claimed]) else None


def check_document(upload: UploadedFile) -> str:
    """The rule for every signed paper we keep (onboarding documents, members' consents): PDF,
    PNG or JPEG only, checked by content, not empty, at most ``DOCUMENT_MAX_BYTES``. Returns the
    content type; raises a ValidationError on ``file`` saying what is wrong."""
    if upload.size is None or upload.size == 0:
        raise ValidationError({"file": "The file is empty."})
    limit = settings.DOCUMENT_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(
            {
                "file": f"{upload.name} is {_size(upload.size)}; the limit is {_size(limit)}. Upload a smaller file."
            }
        )
    content_type = _sniff_content_type(upload)
    if content_type is None:
        raise ValidationError({"file": f"{upload.name} is not a PDF, PNG or JPEG file."})
    return content_type


@transaction.atomic
def upload_document(org: Organization, *, acting_user, kind: str, upload: UploadedFile) -> Document:
    """Store an onboarding document. PDF, PNG or JPEG only (checked by content), at most
    ``DOCUMENT_MAX_BYTES``. A new upload of a kind supersedes the previous one."""
    access.require_role(acting_user, org, [Role.CBO_ADMIN], action="upload onboarding documents")
    if kind not in DocumentKind.values:
        raise ValidationError({"kind": f"Unknown document type {kind!r}."})
    if org.onboarding_status not in (S.DRAFT, S.CHANGES_REQUESTED):
        raise ValidationError({"file": "Documents can only be changed while the application is open."})
    content_type = check_document(upload)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    Document.objects.filter(organization=org, kind=kind, superseded=False).update(superseded=True)
    document = Document.objects.create(
        organization=org,
        kind=kind,
        file=upload,
        original_name=(upload.name or "document")[:255],
        content_type=content_type,
        size=upload.size or 0,
        sha256=digest.hexdigest(),
        uploaded_by=acting_user,
    )
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=document,
        summary=f"Uploaded {document.get_kind_display()}: {document.original_name}",
    )
    return document


def record_download(document: Document, *, acting_user) -> None:
    audit.record(
        actor=acting_user,
        action=AuditAction.DOWNLOAD,
        obj=document,
        summary=f"Downloaded {document.original_name}",
    )


def _transition(org: Organization, target: str, *, acting_user, comment: str = "") -> Organization:
    locked = Organization.objects.select_for_update().get(pk=org.pk)
    current = locked.onboarding_status
    check_transition(TRANSITIONS, "application", current, target)
    locked.onboarding_status = target
    now = timezone.now()
    if target == S.SUBMITTED:
        locked.submitted_at = now
    if target == S.APPROVED:
        locked.approved_at = now
    locked.save(update_fields=["onboarding_status", "submitted_at", "approved_at", "updated_at"])
    OnboardingTransition.objects.create(
        organization=locked, from_status=current, to_status=target, actor=acting_user, comment=comment
    )
    audit.record(
        actor=acting_user,
        action=AuditAction.TRANSITION,
        obj=locked,
        summary=f"Application {S(current).label.lower()} → {S(target).label.lower()}",
        changes={"onboarding_status": [current, target], "comment": comment},
    )
    _notify(locked, current, target, comment)
    return locked


def _notify(org: Organization, current: str, target: str, comment: str) -> None:
    admins = (
        Membership.objects.active()
        .filter(organization=org, role=Role.CBO_ADMIN)
        .values_list("user__email", flat=True)
    )
    recipients = set(admins) | {org.contact_email}
    link = settings.SITE_URL + reverse("onboarding")
    body = (
        f"The onboarding application of {org.legal_name} is now {S(target).label.lower()} "
        f"(was {S(current).label.lower()}).\n\n"
        + (f"Reviewer's comment:\n{comment}\n\n" if comment else "")
        + f"See it at {link}\n"
    )
    email_after_commit(
        recipients, f"Onboarding application {S(target).label.lower()}: {org.legal_name}", body
    )
    if target == S.SUBMITTED:
        reviewers = (
            Membership.objects.active().filter(role__in=REVIEWER_ROLES).values_list("user__email", flat=True)
        )
        email_after_commit(
            reviewers,
            f"New onboarding application to review: {org.legal_name}",
            f"{org.legal_name} submitted its onboarding application.\n\n"
            f"Review it at {settings.SITE_URL}{reverse('review_detail', args=[org.pk])}\n",
        )


@transaction.atomic
def submit(org: Organization, *, acting_user) -> Organization:
    """The CBO's admin submits a complete application for review."""
    access.require_role(acting_user, org, [Role.CBO_ADMIN], action="submit the application")
    org.refresh_from_db()
    check_transition(TRANSITIONS, "application", org.onboarding_status, S.SUBMITTED)
    missing = [item.label for item in checklist(org) if not item.done]
    if missing:
        raise ValidationError(
            "Finish the checklist before submitting. Still missing: " + "; ".join(missing) + "."
        )
    return _transition(org, S.SUBMITTED, acting_user=acting_user)


def _require_reviewer(acting_user, org: Organization) -> None:
    if not access.can_review(acting_user):
        raise PermissionDenied(
            "Only plan contract managers, plan admins and platform admins review applications."
        )
    if access.has_role(acting_user, org, [Role.CBO_ADMIN, Role.CBO_STAFF, Role.CBO_BILLING]):
        raise PermissionDenied("You cannot review your own organization's application.")


@transaction.atomic
def start_review(org: Organization, *, acting_user) -> Organization:
    """A reviewer takes a submitted application into review."""
    _require_reviewer(acting_user, org)
    return _transition(org, S.IN_REVIEW, acting_user=acting_user)


@transaction.atomic
def decide(org: Organization, *, acting_user, decision: str, comment: str = "") -> Organization:
    """A reviewer approves, requests changes or rejects. A submitted application is taken into
    review first (both steps are recorded). Changes and rejections must say why."""
    _require_reviewer(acting_user, org)
    if decision not in DECISIONS:
        raise ValidationError({"decision": f"Unknown decision {decision!r}."})
    comment = (comment or "").strip()
    if decision in (S.CHANGES_REQUESTED, S.REJECTED) and not comment:
        raise ValidationError({"comment": "Tell the organization what to change or why it is rejected."})
    org.refresh_from_db()
    if org.onboarding_status == S.SUBMITTED:
        org = _transition(org, S.IN_REVIEW, acting_user=acting_user)
    return _transition(org, decision, acting_user=acting_user, comment=comment)
