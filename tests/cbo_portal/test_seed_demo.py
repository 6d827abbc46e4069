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
