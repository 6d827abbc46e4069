"""Two-factor sign-in guards the API and the personal API tokens, and is required of billing
coordinators, org admins and platform admins once their grace period to set it up is over."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from cbo_portal.choices import Role
from cbo_portal.models import ApiToken, Membership
from tests.factories import PASSWORD, member


@pytest.fixture(autouse=True)
def _no_otp_throttle(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp delays retries after a wrong code


def _code(device: TOTPDevice, drift: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift):06d}"


def _device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def _password_only(user) -> APIClient:
    """A session that signed in with the password and stopped before the code step."""
    client = APIClient()
    response = client.post("/login/", {"username": user.email, "password": PASSWORD})
    assert response["Location"].startswith("/login/verify/")
    return client


def _verified(user, device: TOTPDevice) -> APIClient:
    client = _password_only(user)
    assert client.post("/login/verify/", {"code": _code(device)}).status_code == 302
    return client


def _joined(user, days_ago: float) -> None:
    Membership.objects.filter(user=user).update(created_at=timezone.now() - timedelta(days=days_ago))


# The API and tokens: only a session through the code step.


def test_password_only_session_is_not_signed_in_for_the_api(world):
    _device(world.cbo_billing)
    client = _password_only(world.cbo_billing)
    for url in ["/api/v1/members/", "/api/v1/claims/", "/api/v1/me/"]:
        response = client.get(url)
        assert response.status_code == 401, url
        error = response.json()["error"]
        assert error["code"] == "second_factor_required"
        assert "/login/verify/" in error["message"]


def test_password_only_session_cannot_create_a_token(world):
    _device(world.cbo_billing)
    client = _password_only(world.cbo_billing)
    api = client.post("/api/v1/tokens/", {"name": "Sync", "organization": world.cbo.pk}, format="json")
    assert api.status_code == 401
    page = client.post("/account/", {"name": "Sync"})
    assert page.status_code == 302 and page["Location"].startswith("/login/verify/")
    assert not ApiToken.objects.exists()


def test_verified_session_reads_the_api_and_creates_tokens(world):
    device = _device(world.cbo_billing)
    client = _verified(world.cbo_billing, device)
    assert client.get("/api/v1/members/").status_code == 200
    assert client.get("/api/v1/claims/").status_code == 200
    created = client.post("/api/v1/tokens/", {"name": "Sync", "organization": world.cbo.pk}, format="json")
    assert created.status_code == 201
    page = client.post("/account/", {"name": "Reports"})
    assert page.status_code == 200 and "cbo_" in page.content.decode()
    assert set(ApiToken.objects.values_list("name", flat=True)) == {"Sync", "Reports"}

    # The token reads the API but cannot mint another token.
    bearer = APIClient(HTTP_AUTHORIZATION=f"Bearer {created.json()['key']}")
    assert bearer.get("/api/v1/members/").status_code == 200
    refused = bearer.post("/api/v1/tokens/", {"name": "More", "organization": world.cbo.pk}, format="json")
    assert refused.status_code == 403
    assert "signed in to the portal" in refused.json()["error"]["message"]
    assert ApiToken.objects.count() == 2


def test_users_without_an_authenticator_keep_working_when_not_required(world, api):
    client = api.as_user(world.cbo_staff)
    assert client.get("/api/v1/members/").status_code == 200
    created = client.post("/api/v1/tokens/", {"name": "Sync", "organization": world.cbo.pk}, format="json")
    assert created.status_code == 201


def test_the_django_admin_also_asks_for_the_code(world):
    world.platform_admin.is_staff = world.platform_admin.is_superuser = True
    world.platform_admin.save()
    _device(world.platform_admin)
    client = _password_only(world.platform_admin)
    assert client.get("/admin/")["Location"].startswith("/login/verify/")


# Enforcement for the roles that must have it.

REQUIRED = ["cbo_billing", "cbo_admin", "plan_admin", "platform_admin", "hub_admin"]
NOT_REQUIRED = ["cbo_staff", "contract_manager", "care_coordinator"]


def _persona(world, name):
    if name == "hub_admin":
        return member(world.hub, Role.CBO_ADMIN, "admin@hub.org")
    return getattr(world, name)


@pytest.fixture
def enforced(settings):
    settings.TWO_FACTOR_ENFORCED = True
    settings.TWO_FACTOR_GRACE_DAYS = 7


@pytest.mark.parametrize("name", REQUIRED)
def test_after_the_grace_period_every_page_leads_to_enrolment(world, api, enforced, name):
    user = _persona(world, name)
    _joined(user, days_ago=8)
    client = api.as_user(user)
    for url in ["/", "/team/", "/account/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == "/account/two-factor/", url
    page = client.get("/account/two-factor/")
    assert page.status_code == 200
    assert "the time to set it up has run out" in page.content.decode()

    response = client.get("/api/v1/me/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "two_factor_enrolment_required"
    assert client.post("/api/v1/tokens/", {"name": "x", "organization": 1}, format="json").status_code == 403


def test_a_token_stops_working_once_its_owner_is_overdue(world, enforced):
    ApiToken.objects.all().delete()
    from cbo_portal.services import people

    _token, key = people.create_api_token(acting_user=world.cbo_billing, organization=world.cbo, name="Sync")
    bearer = APIClient(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert bearer.get("/api/v1/members/").status_code == 200  # within the grace period
    _joined(world.cbo_billing, days_ago=8)
    response = bearer.get("/api/v1/members/")
    assert response.status_code == 403
    assert "two-factor" in response.json()["error"]["message"]


def test_setting_up_the_authenticator_ends_the_redirects(world, api, enforced):
    _joined(world.cbo_billing, days_ago=30)
    client = api.as_user(world.cbo_billing)
    client.get("/account/two-factor/")
    device = TOTPDevice.objects.get(user=world.cbo_billing, confirmed=False)
    confirmed = client.post("/account/two-factor/", {"action": "confirm", "code": _code(device)})
    assert confirmed["Location"] == "/account/"
    assert client.get("/team/").status_code == 200
    assert client.get("/api/v1/me/").status_code == 200


@pytest.mark.parametrize(("days_ago", "left"), [(0, "7 days left"), (6.5, "1 day left")])
def test_within_the_grace_period_a_banner_counts_the_days(world, api, enforced, days_ago, left):
    _joined(world.cbo_admin, days_ago=days_ago)
    client = api.as_user(world.cbo_admin)
    page = client.get("/team/")
    assert page.status_code == 200
    assert 'data-testid="two-factor-banner"' in page.content.decode() and left in page.content.decode()
    assert client.get("/api/v1/me/").status_code == 200


@pytest.mark.parametrize("name", NOT_REQUIRED)
def test_other_roles_are_not_asked(world, api, enforced, name):
    user = getattr(world, name)
    _joined(user, days_ago=365)
    client = api.as_user(user)
    page = client.get("/")
    assert page.status_code in (200, 302) and page.get("Location") != "/account/two-factor/"
    assert "two-factor-banner" not in client.get("/team/").content.decode()
    assert client.get("/api/v1/me/").status_code == 200


def test_a_user_with_an_authenticator_sees_no_banner(world, enforced):
    _joined(world.cbo_billing, days_ago=30)
    client = _verified(world.cbo_billing, _device(world.cbo_billing))
    page = client.get("/team/")
    assert page.status_code == 200 and "two-factor-banner" not in page.content.decode()


def test_not_enforced_by_default_in_development(world, api, settings):
    settings.TWO_FACTOR_ENFORCED = False
    _joined(world.cbo_billing, days_ago=30)
    client = api.as_user(world.cbo_billing)
    assert client.get("/team/").status_code == 200
    assert client.get("/api/v1/me/").status_code == 200
