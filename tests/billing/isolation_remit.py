"""Isolation makers for the acknowledgement, remittance and denial API routes (see tests/test_isolation.py)."""

from __future__ import annotations

from billing.services.acks import import_ack
from billing.services.remittances import import_remittance
from tests.billing.remit_factories import (
    ack_999,
    adj,
    clp,
    line_pay,
    remittance_835,
    sent_batch,
    submitted_claim,
)


def _provider_billers(w):
    return {w.cbo_admin, w.cbo_billing, w.hub_billing}


def _plan_billers(w):
    return {w.plan_admin, w.contract_manager}


def acknowledgement(w):
    batch = sent_batch(w, sets={"0001": 1})
    ack = import_ack(ack_999(batch, sets=["0001"]), file_name="iso.999", acting_user=w.cbo_billing)
    return ack, _provider_billers(w) | _plan_billers(w) | {w.platform_admin}, set()


def remittance(w):
    claim = submitted_claim(w, charges=("100.00",))
    result = import_remittance(
        remittance_835(w, [clp(claim, "1", [line_pay(claim, 1, "100")])]), file_name="iso.835"
    )
    return result.remittance, _provider_billers(w) | _plan_billers(w) | {w.platform_admin}, set()


def denial(w):
    claim = submitted_claim(w, charges=("100.00",))
    denied = clp(claim, "4", [line_pay(claim, 1, "0", adj("CO", "197", "100"))])
    import_remittance(remittance_835(w, [denied]), file_name="iso-denial.835")
    claim.refresh_from_db()
    writers = _provider_billers(w) | {w.platform_admin}
    return claim, writers | _plan_billers(w), writers


MAKERS = {"acknowledgement": acknowledgement, "remittance": remittance, "denial": denial}
