"""Demo data for ``make run``: organizations in every kind and one user per role.

Idempotent: every row is found by a natural key first, so running it twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from cbo_portal.choices import CalAIMService, OnboardingStatus, OrgKind, Role
from cbo_portal.models import County, Membership, Organization

DEMO_PASSWORD = "calaim-demo-2026"


@dataclass
class DemoWorld:
    """What the portal's seed created, handed to later apps' seeds so they can build on it."""

    orgs: dict[str, Organization] = field(default_factory=dict)
    users: dict[str, object] = field(default_factory=dict)


ORGS = {
    "platform": dict(kind=OrgKind.PLATFORM, legal_name="CalAIM Billing Platform"),
    "plan": dict(
        kind=OrgKind.PLAN, legal_name="Pacific Coast Health Plan", payer_id="PCHP1", npi="1457390189",
        tin="953456789", service_street="1055 W 7th St", service_city="Los Angeles", service_zip="90017",
        phone="213-555-0100", contact_name="Dana Whitfield", contact_email="providers@pchp.example",
    ),
    "plan2": dict(
        kind=OrgKind.PLAN, legal_name="Central Valley Health Alliance", payer_id="CVHA2", npi="1184736597",
        tin="946543210", service_street="2000 Tulare St", service_city="Fresno", service_zip="93721",
        phone="559-555-0100", contact_name="Luis Ortega", contact_email="contracts@cvha.example",
    ),
    "cbo": dict(
        kind=OrgKind.CBO, legal_name="Eastside Community Kitchen", dba="Eastside Meals", tin="954112233",
        npi="1245319599", taxonomy_code="251S00000X", service_street="3620 E 1st St", service_city="Los Angeles",
        service_zip="90063", phone="323-555-0142", contact_name="Maria Delgado",
        contact_email="maria@eastsidekitchen.example",
        services_offered=[CalAIMService.MEDICALLY_TAILORED_MEALS, CalAIMService.ECM, CalAIMService.HOUSING_NAVIGATION],
        onboarding_status=OnboardingStatus.APPROVED,
    ),
    "hub": dict(
        kind=OrgKind.HUB, legal_name="Golden State Care Hub", tin="954998877", npi="1346725785",
        taxonomy_code="251S00000X", service_street="500 Capitol Mall", service_city="Sacramento", service_zip="95814",
        phone="916-555-0199", contact_name="Ken Ito", contact_email="billing@gscarehub.example",
        services_offered=[CalAIMService.ECM], onboarding_status=OnboardingStatus.APPROVED,
    ),
    "draft_cbo": dict(
        kind=OrgKind.CBO, legal_name="Harbor Housing Navigators", tin="953334444", service_city="Long Beach",
        contact_email="hello@harborhousing.example",
    ),
}  # fmt: skip

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
    return world
