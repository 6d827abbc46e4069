"""Isolation makers for the claims and batches API (see tests/test_isolation.py).

A ready claim is seen by the provider's and its hub's billing people and platform admins (not yet
by the plan); a batch being prepared by the hub is seen by the hub's billing coordinator and
platform admins."""

from __future__ import annotations

from billing.models import Claim
from billing.services.batches import create_batch, write_batch_file
from billing.services.claims import build_claims
from tests.billing.factories import delivery, setup_billing


def _claim(w) -> Claim:
    setup_billing(w)
    delivery(w)
    build_claims(acting_user=w.cbo_billing)
    return Claim.objects.get()


def claim(w):
    people = {w.cbo_admin, w.cbo_billing, w.hub_billing, w.platform_admin}
    return _claim(w), people, people


def batch(w):
    _claim(w)
    b = write_batch_file(
        create_batch(submitter=w.hub, plan=w.plan, acting_user=w.hub_billing, dispatch=False)
    )
    people = {w.hub_billing, w.platform_admin}
    return b, people, people


MAKERS = {"claim": claim, "batch": batch}
