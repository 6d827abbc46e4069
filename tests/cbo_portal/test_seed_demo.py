import pytest
from django.core.management import CommandError, call_command

from cbo_portal.models import Membership, Organization


def test_seed_demo_is_idempotent_and_prints_logins(db, capsys, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    counts = (Organization.objects.count(), Membership.objects.count())
    call_command("seed_demo")
    assert (Organization.objects.count(), Membership.objects.count()) == counts
    out = capsys.readouterr().out
    assert "contracts@pchp.example" in out and "Plan contract manager" in out


def test_seed_demo_refuses_known_password_without_debug(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo")
    assert not Organization.objects.exists()


def test_the_demo_tells_one_consistent_story(db, settings, client):
    """An approved provider has its documents on file and was approved before its contracts
    started; no referral is received after its first service (or after anything done on it); the
    header and the onboarding page name the organization the same way."""
    import re

    from django.db.models import Min
    from django.utils import timezone

    from cbo_portal.choices import REQUIRED_DOCUMENTS, OnboardingStatus
    from contracts.models import Contract
    from referrals.models import OutreachAttempt, Referral, ServiceDelivery

    settings.DEBUG = True
    call_command("seed_demo")
    approved = Organization.objects.filter(
        kind__in=["cbo", "hub"], onboarding_status=OnboardingStatus.APPROVED
    )
    assert approved.count() == 2
    for org in approved:
        on_file = set(org.documents.filter(superseded=False).values_list("kind", flat=True))
        assert on_file == set(REQUIRED_DOCUMENTS), org
        assert all(d.file.open("rb").read(5) == b"%PDF-" for d in org.documents.all())
        steps = list(org.onboarding_history.values_list("to_status", flat=True))
        assert steps == ["submitted", "in_review", "approved"], org
        first_contract = Contract.objects.filter(cbo=org).aggregate(d=Min("start_date"))["d"]
        assert org.submitted_at < org.approved_at and timezone.localdate(org.approved_at) < first_contract
    for referral in Referral.objects.all():
        received = referral.created_at
        first = ServiceDelivery.objects.filter(referral=referral).aggregate(d=Min("service_date"))["d"]
        if first is not None:
            assert timezone.localdate(received) < first, referral.number
            assert referral.first_service_date == first
        assert all(h.created_at >= received for h in referral.history.all()), referral.number
        assert [h.to_status for h in referral.history.all()][0] in ("received", "pending_review")
        for attempt in OutreachAttempt.objects.filter(referral=referral):
            assert attempt.attempted_on >= timezone.localdate(received), referral.number
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="admin@eastsidekitchen.example"))
    page = client.get("/onboarding/").content.decode()
    header = re.search(r'class="org-name"[^>]*>([^<]+)<', page).group(1)
    h1 = re.search(r"<h1>([^<]+)</h1>", page).group(1)
    assert header == h1 == "Eastside Meals" and "Legal name: Eastside Community Kitchen" in page


def test_the_demo_shows_an_active_and_an_inactive_member(db, settings):
    from referrals import selectors
    from referrals.models import Member

    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")
    status = {
        m.cin: selectors.eligibility(m).status
        for m in Member.objects.filter(cin__in=["91235101A", "91235105E"])
    }
    assert status == {"91235101A": "active", "91235105E": "inactive"}
