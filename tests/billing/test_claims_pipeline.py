"""Big builds: chunks are committed one after the other, whole members each; the next chunk's
scrub sees the claims the chunk before it committed, and a chunk whose deliveries changed before
its commit is prepared again from what is there."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.choices import ClaimStatus
from billing.models import Claim, ClaimLine
from billing.services.claims import bulk as claim_svc
from referrals.models import ServiceDelivery
from tests.billing.factories import delivery, last_month, new_member, setup_billing
from tests.referrals.factories import enroll


@pytest.mark.django_db(transaction=True)
def test_chunks_commit_one_after_the_other_and_the_next_scrub_sees_the_one_before(world, monkeypatch):
    setup_billing(world)
    setup_billing(world, plan=world.other_plan, number="OTHER-1")
    members = [new_member(world) for _ in range(12)]
    logged = [delivery(world, member=m, day=last_month(d)) for m in members for d in (2, 3)]
    # The plan's last member was also billed to the other plan for the same service on the same
    # day; its chunk comes right after the one holding the first claim.
    last = members[-1]
    enroll(last, world.other_plan)
    twice = delivery(world, member=last, plan=world.other_plan, day=last_month(2), staff=world.cbo_admin)
    commits = []
    commit = claim_svc._commit

    def spy(chunk, *args, **kwargs):
        commits.append(len(chunk.rows))
        return commit(chunk, *args, **kwargs)

    monkeypatch.setattr(claim_svc, "_commit", spy)

    result = claim_svc.build_claims(acting_user=world.cbo_billing, chunk_size=4)

    assert len(commits) == 7
    assert (result.claims, result.lines) == (13, 25)  # one claim per member and month
    assert sorted(ClaimLine.objects.values_list("delivery_id", flat=True)) == sorted(
        d.pk for d in [*logged, twice]
    )
    held = Claim.objects.get(lines__delivery=twice)
    assert held.status == ClaimStatus.HELD and [p["code"] for p in held.problems] == ["duplicate"]
    assert Claim.objects.filter(status=ClaimStatus.READY).count() == 12
    assert ServiceDelivery.objects.filter(billed_at__isnull=True).count() == 0


@pytest.mark.django_db
def test_a_delivery_changed_before_its_chunk_commits_is_billed_as_it_is_now(world):
    setup_billing(world)
    first = delivery(world, units=1)
    gone = delivery(world, units=1)
    rows = [
        claim_svc.Row(*v)
        for v in ServiceDelivery.objects.order_by("pk").values_list(*claim_svc.DELIVERY_FIELDS)
    ]
    cache = claim_svc.BuildCache()
    chunk = claim_svc._prepare(rows, cache, acting_user=world.cbo_billing, today=None)
    assert sorted(c.billed_amount for c, _lines in chunk.pairs) == [Decimal("95.00")] * 2

    ServiceDelivery.objects.filter(pk=first.pk).update(units=Decimal(2))  # edited meanwhile
    ServiceDelivery.objects.filter(pk=gone.pk).update(status="voided")  # voided meanwhile

    result = claim_svc._commit(chunk, cache, acting_user=world.cbo_billing, today=None)
    assert (result.claims, result.lines) == (1, 1)
    claim = Claim.objects.get()
    assert claim.billed_amount == Decimal("190.00") and claim.lines.get().delivery_id == first.pk
