"""factory_boy factories for the portal's models. Later apps add their own beside their tests."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from cbo_portal.choices import OnboardingStatus, OrgKind, Role
from cbo_portal.identifiers import luhn_check_digit
from cbo_portal.models import Membership, Organization

PASSWORD = "correct-horse-battery-9"


def valid_npi(n: int) -> str:
    base = f"1{n:08d}"
    return base + str(luhn_check_digit("80840" + base))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    username = factory.SelfAttribute("email")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create:
            instance.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    kind = OrgKind.CBO
    legal_name = factory.Sequence(lambda n: f"Community Org {n}")
    tin = factory.Sequence(lambda n: f"95{n:07d}")
    npi = factory.Sequence(valid_npi)
    taxonomy_code = "251S00000X"
    service_street = "100 Main St"
    service_city = "Los Angeles"
    service_zip = "90012"
    phone = "213-555-0100"
    contact_name = "Alex Rivera"
    contact_email = factory.Sequence(lambda n: f"contact{n}@example.org")
    onboarding_status = OnboardingStatus.APPROVED


class PlanFactory(OrganizationFactory):
    kind = OrgKind.PLAN
    legal_name = factory.Sequence(lambda n: f"Health Plan {n}")
    payer_id = factory.Sequence(lambda n: f"PAYER{n}")
    taxonomy_code = ""


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.CBO_STAFF


def member(org: Organization, role: str, email: str | None = None):
    """A user holding ``role`` in ``org``."""
    user = UserFactory(email=email) if email else UserFactory()
    MembershipFactory(user=user, organization=org, role=role)
    return user
