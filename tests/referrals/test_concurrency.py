"""Two people log the last units of one authorization at the same moment, on PostgreSQL, in two
real threads with their own connections: exactly one succeeds and the authorization is never
overdrawn (the logging service locks the authorization row with SELECT ... FOR UPDATE)."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connections
from django.utils import timezone

from referrals.models import Authorization, ServiceDelivery
from referrals.services import deliveries
from tests.referrals.factories import authorization, covered_world, referral


@pytest.mark.postgresql  # row locks
@pytest.mark.django_db(transaction=True)
def test_two_transactions_logging_the_last_units_exactly_one_succeeds(world):
    covered_world(world)
    ref = referral(world)
    auth = authorization(world, ref, units=3)
    today = timezone.localdate()
    deliveries.log_service(
        acting_user=world.cbo_staff,
        referral=ref,
        service_date=today - timedelta(days=5),
        units=1,
        place_of_service="12",
    )  # 2 units left
    start = threading.Barrier(2)
    results: dict[str, object] = {}

    def log(name, user, day):
        try:
            start.wait(timeout=10)
            d = deliveries.log_service(
                acting_user=user, referral=ref, service_date=day, units=2, place_of_service="12"
            )
            results[name] = d.pk
        except ValidationError as exc:
            results[name] = exc
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=log, args=("staff", world.cbo_staff, today)),
        threading.Thread(target=log, args=("admin", world.cbo_admin, today - timedelta(days=1))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    wins = [v for v in results.values() if isinstance(v, int)]
    losses = [v for v in results.values() if isinstance(v, ValidationError)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert "used up" in str(losses[0]) or "left on authorization" in str(losses[0])
    auth = Authorization.objects.get(pk=auth.pk)
    assert auth.units_used == 3 and auth.status == "exhausted"
    assert sum(d.units for d in ServiceDelivery.objects.filter(authorization=auth, status="logged")) == 3
