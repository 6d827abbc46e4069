from __future__ import annotations

from contracts import demo
from contracts.choices import ContractStatus
from contracts.models import Contract, ContractAmendment


def test_demo_seed_is_idempotent(db, settings):
    from cbo_portal.demo import seed_portal

    world = seed_portal(password="demo-pass-123456")
    demo.seed(world)
    demo.seed(world)
    assert Contract.objects.count() == 4
    assert Contract.objects.filter(status=ContractStatus.ACTIVE).count() == 3
    assert ContractAmendment.objects.count() == 1
    assert {c.plan.legal_name for c in Contract.objects.select_related("plan")} == {
        "Pacific Coast Health Plan",
        "Central Valley Health Alliance",
    }
