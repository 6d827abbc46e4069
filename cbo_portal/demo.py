"""Demo data for ``make run``: organizations in every kind and one user per role.

Idempotent: every row is found by a natural key first, so running it twice changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from cbo_portal.choices import (
    REQUIRED_DOCUMENTS,
    CalAIMService,
    DocumentKind,
    OnboardingStatus,
    OrgKind,
    Role,
)
from cbo_portal.models import County, Document, Membership, OnboardingTransition, Organization

DEMO_PASSWORD = "calaim-demo-2026"


@dataclass
class DemoWorld:
    """What the portal's seed created, handed to later apps' seeds so they can build on it."""

    orgs: dict[str, Organization] = field(default_factory=dict)
    users: dict[str, object] = field(default_factory=dict)


ORGS = {
    "platform": dict(kind=OrgKind.PLATFORM, legal_name="CalAIM Billing Platform"),
    "plan": dict(
        kind=OrgKind.PLAN,
        legal_name="Pacific Coast Health Plan",
        payer_id="PCHP1",
        npi="1457390189",
        tin="953456789",
        service_street="1055 W 7th St",
        service_city="Los Angeles",
        service_zip="90017",
        phone="213-555-0100",
        contact_name="Dana Whitfield",
        contact_email="providers@pchp.example",
    ),
    "plan2": dict(
        kind=OrgKind.PLAN,
        legal_name="Central Valley Health Alliance",
        payer_id="CVHA2",
        npi="1184736597",
        tin="946543210",
        service_street="2000 Tulare St",
        service_city="Fresno",
        service_zip="93721",
        phone="559-555-0100",
        contact_name="Luis Ortega",
        contact_email="contracts@cvha.example",
    ),
    "cbo": dict(
        kind=OrgKind.CBO,
        legal_name="Eastside Community Kitchen",
        dba="Eastside Meals",
        tin="954112233",
        npi="1245319599",
        taxonomy_code="251S00000X",
        service_street="3620 E 1st St",
        service_city="Los Angeles",
        service_zip="90063",
        phone="323-555-0142",
        contact_name="Maria Delgado",
        contact_email="maria@eastsidekitchen.example",
        services_offered=[
            CalAIMService.MEDICALLY_TAILORED_MEALS,
            CalAIMService.ECM,
            CalAIMService.HOUSING_NAVIGATION,
        ],
        onboarding_status=OnboardingStatus.APPROVED,
    ),
    "hub": dict(
        kind=OrgKind.HUB,
        legal_name="Golden State Care Hub",
        tin="954998877",
        npi="1346725785",
        taxonomy_code="251S00000X",
        service_street="500 Capitol Mall",
        service_city="Sacramento",
        service_zip="95814",
        phone="916-555-0199",
        contact_name="Ken Ito",
        contact_email="billing@gscarehub.example",
        services_offered=[CalAIMService.ECM],
        onboarding_status=OnboardingStatus.APPROVED,
    ),
    "draft_cbo": dict(
        kind=OrgKind.CBO,
        legal_name="Harbor Housing Navigators",
        tin="953334444",
        service_city="Long Beach",
        contact_email="hello@harborhousing.example",
    ),
}

USERS = [
    ("platform", Role.PLATFORM_ADMIN, "admin@platform.example", "Pat", "Admin"),
    ("plan", Role.PLAN_ADMIN, "plan.admin@pchp.example", "Priya", "Shah"),
    ("plan", Role.PLAN_CONTRACT_MANAGER, "contracts@pchp.example", "Dana", "Whitfield"),
    ("plan", Role.PLAN_CARE_COORDINATOR, "care@pchp.example", "Tomas", "Reyes"),
    ("plan2", Role.PLAN_CONTRACT_MANAGER, "contracts@cvha.example", "Luis", "Ortega"),
    ("cbo", Role.CBO_ADMIN, "admin@eastsidekitchen.example", "Maria", "Delgado"),
    ("cbo", Role.CBO_STAFF, "staff@eastsidekitchen.example", "Jamal", "Brooks"),
    ("cbo", Role.CBO_BILLING, "billing@eastsidekitchen.example", "Grace", "Kim"),
    ("hub", Role.CBO_BILLING, "billing@gscarehub.example", "Ken", "Ito"),
    ("draft_cbo", Role.CBO_ADMIN, "admin@harborhousing.example", "Ana", "Flores"),
]

COUNTIES = {
    "cbo": ["Los Angeles"],
    "hub": ["Sacramento", "Yolo"],
    "plan": ["Los Angeles"],
    "plan2": ["Fresno", "Kern"],
}


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF showing ``lines`` (a stand-in for a scanned W-9 or certificate)."""
    text = "".join(
        f"({line.replace(chr(92), '').replace('(', '[').replace(')', ']')}) Tj 0 -22 Td " for line in lines
    )
    stream = f"BT /F1 14 Tf 72 720 Td {text}ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _on(days_ago: int, hour: int) -> datetime:
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _approved_with_papers(org: Organization, *, applicant, reviewer) -> None:
    """An approved provider has what approval takes: the required documents on file and the
    application's history (drafted, submitted, reviewed, approved by the plan's reviewer), dated
    well before its contracts and services. Nothing is added to what an earlier run filed."""
    submitted, reviewed, approved = _on(400, 10), _on(397, 9), _on(396, 15)
    on_file = set(org.documents.filter(superseded=False).values_list("kind", flat=True))
    for kind in REQUIRED_DOCUMENTS:
        if kind in on_file:
            continue
        label = DocumentKind(kind).label
        data = _pdf(
            [
                f"{label} (demo)",
                org.legal_name,
                f"TIN {org.tin_display}" if org.tin else "",
                "Sample document for the CalAIM billing demo.",
            ]
        )
        name = (
            "-".join("".join(c if c.isalnum() else " " for c in label.lower()).split())
            + f"-{org.tin or org.pk}.pdf"
        )
        document = Document(
            organization=org,
            kind=kind,
            original_name=name,
            content_type="application/pdf",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            uploaded_by=applicant,
        )
        document.file.save(name, ContentFile(data), save=False)
        document.save()
        Document.objects.filter(pk=document.pk).update(uploaded_at=submitted - timedelta(days=2))
    if not OnboardingTransition.objects.filter(organization=org).exists():
        S = OnboardingStatus
        steps = [
            (S.DRAFT, S.SUBMITTED, applicant, "", submitted),
            (S.SUBMITTED, S.IN_REVIEW, reviewer, "", reviewed),
            (S.IN_REVIEW, S.APPROVED, reviewer, "Documents and profile complete.", approved),
        ]
        for source, target, actor, comment, at in steps:
            step = OnboardingTransition.objects.create(
                organization=org, from_status=source, to_status=target, actor=actor, comment=comment
            )
            OnboardingTransition.objects.filter(pk=step.pk).update(created_at=at)
        Organization.objects.filter(pk=org.pk).update(submitted_at=submitted, approved_at=approved)


@transaction.atomic
def seed_portal(*, password: str) -> DemoWorld:
    world = DemoWorld()
    for key, values in ORGS.items():
        values = dict(values)
        org = Organization.objects.filter(legal_name=values["legal_name"]).first()
        if org is None:
            org = Organization.objects.create(**values)
            if org.onboarding_status == OnboardingStatus.APPROVED or org.kind in (
                OrgKind.PLAN,
                OrgKind.PLATFORM,
            ):
                Organization.objects.filter(pk=org.pk).update(
                    onboarding_status=OnboardingStatus.APPROVED, approved_at=timezone.now()
                )
                org.refresh_from_db()
            org.counties.set(County.objects.filter(name__in=COUNTIES.get(key, [])))
        world.orgs[key] = org
    User = get_user_model()
    for org_key, role, email, first, last in USERS:
        user, created = User.objects.get_or_create(
            username=email, defaults={"email": email, "first_name": first, "last_name": last}
        )
        if created:
            user.set_password(password)
            user.save()
        Membership.objects.get_or_create(user=user, organization=world.orgs[org_key], defaults={"role": role})
        world.users[role if org_key != "plan2" else "plan2_contract_manager"] = user
        world.users.setdefault(email, user)
    reviewer = world.users[Role.PLAN_CONTRACT_MANAGER]
    for key, org in world.orgs.items():
        if org.is_provider and org.onboarding_status == OnboardingStatus.APPROVED:
            # The organization's admin applied (a hub without one in the demo: its first member).
            staff = list(Membership.objects.filter(organization=org).select_related("user").order_by("pk"))
            admins = [m.user for m in staff if m.role == Role.CBO_ADMIN]
            applicant = (admins or [m.user for m in staff] or [world.users[Role.PLATFORM_ADMIN]])[0]
            _approved_with_papers(org, applicant=applicant, reviewer=reviewer)
            world.orgs[key] = Organization.objects.get(pk=org.pk)
    return world
