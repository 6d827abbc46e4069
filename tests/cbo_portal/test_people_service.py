"""Invitations, team management and API tokens."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cbo_portal.choices import Role
from cbo_portal.models import Invitation, Membership
from cbo_portal.services import people

User = get_user_model()


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[-1]


def test_invitation_is_emailed_and_single_use(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation, link = people.invite(
            world.cbo, acting_user=world.cbo_admin, email="New.Hire@Eastside.org", role=Role.CBO_STAFF
        )
    assert invitation.email == "new.hire@eastside.org"
    assert link in mail.outbox[-1].body and mail.outbox[-1].to == ["new.hire@eastside.org"]
    assert token_of(link) not in invitation.token_hash  # only the digest is stored
    user = people.accept_invitation(
        token_of(link), password="a-long-passphrase-2", first_name="New", last_name="Hire"
    )
    assert Membership.objects.get(user=user, organization=world.cbo).role == Role.CBO_STAFF
    with pytest.raises(people.InvitationError, match="already been used"):
        people.accept_invitation(token_of(link), password="a-long-passphrase-2")
    assert User.objects.filter(email="new.hire@eastside.org").count() == 1


def test_expired_and_unknown_links_are_refused(world):
    invitation, link = people.invite(
        world.cbo, acting_user=world.cbo_admin, email="late@eastside.org", role=Role.CBO_STAFF
    )
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timezone.timedelta(minutes=1)
    )
    with pytest.raises(people.InvitationError, match="expired"):
        people.accept_invitation(token_of(link), password="a-long-passphrase-2")
    with pytest.raises(people.InvitationError, match="not valid"):
        people.accept_invitation("made-up-token", password="a-long-passphrase-2")
    assert not User.objects.filter(email="late@eastside.org").exists()


def test_reinviting_withdraws_the_older_link(world):
    _first, old_link = people.invite(
        world.cbo, acting_user=world.cbo_admin, email="x@eastside.org", role=Role.CBO_STAFF
    )
    people.invite(world.cbo, acting_user=world.cbo_admin, email="x@eastside.org", role=Role.CBO_BILLING)
    with pytest.raises(people.InvitationError, match="withdrawn"):
        people.accept_invitation(token_of(old_link), password="a-long-passphrase-2")


def test_existing_account_joins_second_organization_with_its_password(world):
    _inv, link = people.invite(
        world.hub, acting_user=world.platform_admin, email="admin@eastside.org", role=Role.CBO_BILLING
    )
    with pytest.raises(ValidationError, match="enter its password"):
        people.accept_invitation(token_of(link), password="wrong-password-123")
    from tests.factories import PASSWORD

    user = people.accept_invitation(token_of(link), password=PASSWORD)
    assert user == world.cbo_admin
    assert set(user.memberships.values_list("organization__legal_name", flat=True)) == {
        "Eastside Community Kitchen",
        "Golden State Care Hub",
    }


def test_only_admins_invite_and_roles_must_fit_the_organization(world):
    with pytest.raises(PermissionDenied):
        people.invite(world.cbo, acting_user=world.cbo_staff, email="a@b.org", role=Role.CBO_STAFF)
    with pytest.raises(PermissionDenied):
        people.invite(world.cbo, acting_user=world.other_cbo_admin, email="a@b.org", role=Role.CBO_STAFF)
    with pytest.raises(ValidationError, match="cannot have the role"):
        people.invite(world.cbo, acting_user=world.cbo_admin, email="a@b.org", role=Role.PLAN_ADMIN)
    assert not Invitation.objects.exists()


def test_the_last_admin_cannot_be_removed(world):
    admin_membership = Membership.objects.get(user=world.cbo_admin, organization=world.cbo)
    with pytest.raises(ValidationError, match="at least one active admin"):
        people.change_membership(admin_membership, acting_user=world.cbo_admin, is_active=False)
    staff = Membership.objects.get(user=world.cbo_staff, organization=world.cbo)
    people.change_membership(staff, acting_user=world.cbo_admin, role=Role.CBO_BILLING)
    staff.refresh_from_db()
    assert staff.role == Role.CBO_BILLING


def test_api_token_shown_once_and_revocable(world, api):
    token, raw = people.create_api_token(
        acting_user=world.cbo_billing, organization=world.cbo, name="EHR sync"
    )
    assert raw.startswith("cbo_") and raw not in token.key_hash
    client = api.__class__()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    me = client.get("/api/v1/me/").json()
    assert me["email"] == "billing@eastside.org"
    assert [m["organization"] for m in me["memberships"]] == [world.cbo.pk]
    people.revoke_api_token(token, acting_user=world.cbo_billing)
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid or revoked API token."
