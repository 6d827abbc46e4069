"""A member's record belongs to the plan they are enrolled with. Nobody else changes it or opens
it by naming a CIN: not through the API, the referral form, a bulk file or a community referral;
a refused request writes nothing. A CBO that knows better proposes a correction."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms.models import model_to_dict

from cbo_portal.choices import OnboardingStatus
from cbo_portal.models import AuditEvent
from referrals.models import Enrollment, Member, MemberCorrection, Referral
from referrals.services import imports
from referrals.services import members as member_svc
from referrals.services import referrals as ref_svc
from tests.referrals.factories import MemberFactory, contracted, referral

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _contracts(world):
    """Every CBO here is contracted with both plans, so only the ownership rule refuses."""
    for plan in (world.plan, world.other_plan):
        for cbo in (world.cbo, world.other_cbo):
            contracted(world, plan=plan, cbo=cbo)


ATTACK = {
    "first_name": "Mallory",
    "last_name": "Hacker",
    "dob": "1999-09-09",
    "phone": "415-555-6666",
    "street": "1 Attacker Way",
    "city": "Oakland",
    "zip": "94601",
}


def _plan_member(world):
    """A member of world.plan, referred to world.cbo and accepted."""
    return referral(
        world, member=MemberFactory(last_name="Okonkwo", phone="213-555-0100", street="5 Main St")
    ).member


def _snapshot(member):
    member.refresh_from_db()
    return model_to_dict(member)


def _state():
    return (
        Member.objects.count(),
        Referral.objects.count(),
        Enrollment.objects.count(),
        MemberCorrection.objects.count(),
    )


def _body(member, *, source="plan", **extra):
    return {"member": {"cin": member.cin, **ATTACK}, "service": "S5170-U6", "source": source, **extra}


OUTSIDERS = ["other_plan_coordinator", "other_cbo_staff", "other_cbo_admin", "other_plan_manager"]


@pytest.mark.parametrize("persona", OUTSIDERS)
@pytest.mark.parametrize("source", ["plan", "self", "community"])
def test_no_outsider_changes_or_opens_a_member_through_the_referral_api(world, api, persona, source):
    member = _plan_member(world)
    before, counts = _snapshot(member), _state()
    user = getattr(world, persona)
    client = api.as_user(user)
    extra = {"cbo": world.other_cbo.pk} if source == "plan" else {"plan": world.plan.pk}
    response = client.post("/api/v1/referrals/", _body(member, source=source, **extra), format="json")
    assert _snapshot(member) == before
    if response.status_code == 201:
        # A CBO's community referral is recorded for the plan's review, but shows only what it typed.
        assert source != "plan" and persona.startswith("other_cbo")
        shown = response.json()["member"]
        assert (
            shown["id"] is None and shown["phone"] == ATTACK["phone"] and shown["street"] == ATTACK["street"]
        )
        assert Referral.objects.get(pk=response.json()["id"]).submitted_member["first_name"] == "Mallory"
    else:
        assert response.status_code in (400, 403, 404), response.content
        assert _state() == counts
    assert client.get(f"/api/v1/members/{member.pk}/").status_code == 404
    assert member.cin not in str(client.get("/api/v1/members/", {"search": member.cin}).content)
    assert not AuditEvent.objects.filter(
        object_type="referrals.Member", object_id=str(member.pk), action="update"
    ).exists()


def test_another_plan_cannot_refer_a_member_enrolled_with_a_plan(world, api):
    member = _plan_member(world)
    before, counts = _snapshot(member), _state()
    client = api.as_user(world.other_plan_coordinator)
    response = client.post("/api/v1/referrals/", _body(member, cbo=world.cbo.pk), format="json")
    assert response.status_code == 400
    assert "enrolled with another plan" in str(response.json())
    assert _snapshot(member) == before and _state() == counts


def test_a_refused_referral_by_the_owning_plan_writes_nothing(world, api):
    """Checks run before any write: a draft CBO refuses the referral and the member stays as it was."""
    member = _plan_member(world)
    world.other_cbo.onboarding_status = OnboardingStatus.DRAFT
    world.other_cbo.save(update_fields=["onboarding_status"])
    before, counts = _snapshot(member), _state()
    response = api.as_user(world.care_coordinator).post(
        "/api/v1/referrals/", _body(member, cbo=world.other_cbo.pk), format="json"
    )
    assert response.status_code == 400, response.content
    assert _snapshot(member) == before and _state() == counts


def test_another_plans_user_naming_this_plan_writes_nothing(world, api):
    member = _plan_member(world)
    before, counts = _snapshot(member), _state()
    response = api.as_user(world.other_plan_coordinator).post(
        "/api/v1/referrals/", _body(member, cbo=world.cbo.pk, plan=world.plan.pk), format="json"
    )
    assert response.status_code == 403
    assert _snapshot(member) == before and _state() == counts


def test_the_owning_plan_updates_its_member_and_the_change_is_audited_for_those_who_serve_them(world, api):
    member = _plan_member(world)
    response = api.as_user(world.care_coordinator).post(
        "/api/v1/referrals/", _body(member, cbo=world.cbo.pk), format="json"
    )
    assert response.status_code == 201, response.content
    member.refresh_from_db()
    assert member.phone == ATTACK["phone"]
    change = AuditEvent.objects.get(object_type="referrals.Member", object_id=str(member.pk), action="update")
    assert change.organization_id == world.plan.pk and change.changes["phone"] == [
        "213-555-0100",
        ATTACK["phone"],
    ]
    # The CBO serving the member sees the change on the member's page.
    page = api.as_user(world.cbo_staff).get(f"/members/{member.pk}/")
    assert page.status_code == 200 and "Updated member" in page.content.decode()


def test_a_community_referral_for_a_known_cin_grants_nothing_until_the_plan_approves(world, api):
    member = _plan_member(world)
    before = _snapshot(member)
    client = api.as_user(world.other_cbo_staff)
    response = client.post(
        "/api/v1/referrals/", _body(member, source="community", plan=world.plan.pk), format="json"
    )
    assert response.status_code == 201, response.content
    r = Referral.objects.get(pk=response.json()["id"])
    assert r.status == "pending_review" and _snapshot(member) == before
    # Its own referral page shows what it typed, never the record's phone or address.
    page = client.get(f"/referrals/{r.pk}/").content.decode()
    assert ATTACK["phone"] in page and before["phone"] not in page and before["street"] not in page
    assert client.get(f"/members/{member.pk}/").status_code == 404
    detail = client.get(f"/api/v1/referrals/{r.pk}/").json()["member"]
    assert detail["phone"] == ATTACK["phone"] and detail["id"] is None

    ref_svc.approve_community_referral(r, acting_user=world.care_coordinator)
    assert _snapshot(member) == before
    assert client.get(f"/api/v1/members/{member.pk}/").status_code == 200
    # What it typed differently waits as a correction for the plan.
    correction = MemberCorrection.objects.get(member=member)
    assert correction.organization == world.other_cbo and correction.changes["phone"] == ATTACK["phone"]


def test_the_plan_cannot_approve_a_community_referral_of_another_plans_member(world):
    member = _plan_member(world)
    typed = {
        "cin": member.cin,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "dob": member.dob,
    }
    r = ref_svc.record_community_referral(
        acting_user=world.other_cbo_staff,
        plan=world.other_plan,
        cbo=world.other_cbo,
        member_details=typed,
        service=_service(),
    )
    with pytest.raises(ValidationError, match="enrolled with another plan"):
        ref_svc.approve_community_referral(r, acting_user=world.other_plan_coordinator)
    assert not Enrollment.objects.filter(member=member, plan=world.other_plan).exists()


def _service():
    from tests.referrals.factories import service

    return service("S5170-U6")


def test_the_referral_form_of_another_plan_changes_nothing(world, client):
    member = _plan_member(world)
    before, counts = _snapshot(member), _state()
    client.force_login(world.other_plan_coordinator)
    form = {
        "cin": member.cin,
        **ATTACK,
        "sex": "U",
        "cbo": world.cbo.pk,
        "service": _service().pk,
        "priority": "routine",
    }
    response = client.post("/referrals/new/", form)
    assert response.status_code == 200 and "enrolled with another plan" in response.content.decode()
    assert _snapshot(member) == before and _state() == counts


def _csv(member, phone):
    header = "CIN,First Name,Last Name,DOB,Phone,Service,Priority,Plan Reference\n"
    return (
        header + f"{member.cin},{member.first_name},{member.last_name},{member.dob:%Y-%m-%d},{phone},"
        "S5170-U6,routine,PR-OWN-1\n"
    ).encode()


def test_a_bulk_file_of_another_plan_cannot_name_this_plans_member(world, django_capture_on_commit_callbacks):
    member = _plan_member(world)
    before, counts = _snapshot(member), _state()
    with django_capture_on_commit_callbacks(execute=True):
        batch, _ = imports.start_import(
            acting_user=world.other_plan_coordinator,
            plan=world.other_plan,
            cbo=world.cbo,
            upload=SimpleUploadedFile("r.csv", _csv(member, "415-555-6666")),
        )
    batch.refresh_from_db()
    assert batch.status == "invalid"
    error = batch.row_errors.get()
    assert error.line == 2 and error.column == "cin" and "enrolled with another plan" in error.message
    assert _snapshot(member) == before and _state() == counts


def test_the_owning_plans_bulk_file_updates_and_audits_each_member(world, django_capture_on_commit_callbacks):
    member = _plan_member(world)
    with django_capture_on_commit_callbacks(execute=True):
        batch, _ = imports.start_import(
            acting_user=world.care_coordinator,
            plan=world.plan,
            cbo=world.cbo,
            upload=SimpleUploadedFile("r.csv", _csv(member, "415-555-7777")),
        )
    batch.refresh_from_db()
    assert batch.status == "done", batch.message
    member.refresh_from_db()
    assert member.phone == "415-555-7777"
    change = AuditEvent.objects.get(object_type="referrals.Member", object_id=str(member.pk), action="update")
    assert change.organization_id == world.plan.pk and change.changes["phone"][1] == "415-555-7777"


def test_only_the_owning_plan_edits_the_record(world):
    member = _plan_member(world)
    for outsider in (world.other_plan_coordinator, world.cbo_staff, world.cbo_admin):
        with pytest.raises(PermissionDenied):
            member_svc.update_member(member, acting_user=outsider, plan=world.other_plan, phone="1")
    with pytest.raises(PermissionDenied):  # a role in a plan the member is not enrolled with
        member_svc.update_member(
            member, acting_user=world.other_plan_coordinator, plan=world.other_plan, phone="415-555-0000"
        )
    member_svc.update_member(
        member, acting_user=world.care_coordinator, plan=world.plan, phone="415-555-0000"
    )
    member.refresh_from_db()
    assert member.phone == "415-555-0000"


def test_a_cbo_proposes_a_correction_and_the_plan_decides_it_on_the_member_page(world, client):
    member = _plan_member(world)
    client.force_login(world.cbo_staff)
    page = client.get(f"/members/{member.pk}/").content.decode()
    assert "Propose a correction" in page and "Edit the record" not in page
    assert client.post(f"/members/{member.pk}/", {"action": "edit", "edit-phone": "1"}).status_code == 404
    response = client.post(
        f"/members/{member.pk}/",
        {"action": "propose", "propose-phone": "323-555-0199", "propose-note": "Member told us at the visit"},
    )
    assert response.status_code == 302
    correction = MemberCorrection.objects.get(member=member)
    member.refresh_from_db()
    assert member.phone == "213-555-0100" and correction.status == "pending"
    # An outsider CBO cannot propose anything for a member it does not serve.
    with pytest.raises(PermissionDenied):
        member_svc.propose_correction(
            member, acting_user=world.other_cbo_staff, organization=world.other_cbo, phone="1"
        )
    client.force_login(world.care_coordinator)
    assert "Waiting for the plan" in client.get(f"/members/{member.pk}/").content.decode()
    refused = client.post(
        f"/members/{member.pk}/",
        {"action": "decide", "correction": correction.pk, "decision": "reject", "note": ""},
    )
    assert "Say why the correction is rejected" in refused.content.decode()
    client.post(
        f"/members/{member.pk}/", {"action": "decide", "correction": correction.pk, "decision": "accept"}
    )
    member.refresh_from_db()
    correction.refresh_from_db()
    assert member.phone == "323-555-0199" and correction.status == "accepted"
    with pytest.raises(ValidationError, match="already accepted"):
        member_svc.decide_correction(correction, acting_user=world.care_coordinator, accept=False, note="x")


def test_a_new_member_from_a_community_referral_is_recorded_as_typed(world):
    typed = {"cin": "91230001C", "first_name": "Rosa", "last_name": "Diaz", "dob": date(1970, 1, 2)}
    r = ref_svc.record_community_referral(
        acting_user=world.cbo_staff, plan=world.plan, cbo=world.cbo, member_details=typed, service=_service()
    )
    assert r.member.first_name == "Rosa" and r.shown_member.full_name == "Rosa Diaz"
    r = ref_svc.approve_community_referral(r, acting_user=world.care_coordinator)
    assert not r.member_hidden and not MemberCorrection.objects.exists()


@pytest.mark.parametrize("persona", ["cbo_admin", "cbo_staff", "cbo_billing", "hub_billing", *OUTSIDERS])
def test_only_the_members_plan_patches_the_record_through_the_api(world, api, persona):
    member = _plan_member(world)
    before = _snapshot(member)
    status = api.as_user(getattr(world, persona)).patch(
        f"/api/v1/members/{member.pk}/", ATTACK, format="json"
    )
    assert status.status_code in (403, 404) and _snapshot(member) == before
    response = api.as_user(world.care_coordinator).patch(
        f"/api/v1/members/{member.pk}/", {"phone": "415-555-1234"}, format="json"
    )
    assert response.status_code == 200 and response.json()["phone"] == "415-555-1234"


def test_corrections_through_the_api(world, api):
    member = _plan_member(world)
    proposed = api.as_user(world.cbo_staff).post(
        f"/api/v1/members/{member.pk}/corrections/",
        {"phone": "323-555-0101", "note": "new number"},
        format="json",
    )
    assert proposed.status_code == 201, proposed.content
    pk = proposed.json()["id"]
    assert (
        api.as_user(world.cbo_staff)
        .post(f"/api/v1/member-corrections/{pk}/accept/", {}, format="json")
        .status_code
        == 403
    )
    assert (
        api.as_user(world.other_plan_coordinator).get(f"/api/v1/member-corrections/{pk}/").status_code == 404
    )
    accepted = api.as_user(world.care_coordinator).post(
        f"/api/v1/member-corrections/{pk}/accept/", {}, format="json"
    )
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    member.refresh_from_db()
    assert member.phone == "323-555-0101"


def test_searching_by_name_does_not_reveal_the_record_behind_a_pending_community_referral(world, client):
    member = _plan_member(world)
    typed = {"cin": member.cin, "first_name": "Zed", "last_name": "Unrelated", "dob": member.dob}
    r = ref_svc.record_community_referral(
        acting_user=world.other_cbo_staff,
        plan=world.plan,
        cbo=world.other_cbo,
        member_details=typed,
        service=_service(),
    )
    client.force_login(world.other_cbo_staff)
    by_record_name = client.get("/referrals/", {"q": member.last_name[:5]}).content.decode()
    assert r.number not in by_record_name
    assert r.number in client.get("/referrals/", {"q": member.cin}).content.decode()
