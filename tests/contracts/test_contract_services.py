"""Creating, editing, activating, terminating and expiring contracts."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from cbo_portal.choices import OnboardingStatus
from cbo_portal.models import AuditEvent
from cbo_portal.statemachine import IllegalTransition
from contracts.choices import ContractStatus
from contracts.models import Contract
from contracts.services import contracts as svc
from tests.contracts.factories import active_contract, draft_contract
from tests.factories import OrganizationFactory


def test_contract_manager_creates_a_draft_with_plan_settings(world):
    contract = svc.create_contract(
        acting_user=world.contract_manager,
        plan=world.plan,
        cbo=world.cbo,
        number=" PCHP-100 ",
        start_date=date(2026, 1, 1),
        end_date=date(2026, 12, 31),
        counties=["Los Angeles", "06059"],
        receiver_id="PCHPCLEAR",
        claim_format="invoice",
    )
    assert contract.status == ContractStatus.DRAFT
    assert contract.number == "PCHP-100"
    assert contract.payer_id == world.plan.payer_id
    assert contract.timely_filing_days == 180
    assert sorted(c.name for c in contract.counties.all()) == ["Los Angeles", "Orange"]
    assert [(h.from_status, h.to_status) for h in contract.status_history.all()] == [("", "draft")]
    assert AuditEvent.objects.filter(object_type="contracts.Contract", object_id=str(contract.pk)).exists()


@pytest.mark.parametrize("who", ["cbo_admin", "care_coordinator", "other_plan_manager"])
def test_only_the_plans_contract_managers_create_contracts(world, who):
    with pytest.raises(PermissionDenied):
        svc.create_contract(
            acting_user=getattr(world, who),
            plan=world.plan,
            cbo=world.cbo,
            number="X-1",
            start_date=date(2026, 1, 1),
        )
    assert not Contract.objects.exists()


def test_plan_admin_may_create_contracts_too(world):
    draft_contract(world.plan, world.cbo, world.plan_admin)
    assert Contract.objects.count() == 1


def test_end_before_start_is_refused_and_nothing_saved(world):
    with pytest.raises(ValidationError) as caught:
        draft_contract(
            world.plan, world.cbo, world.contract_manager, start=date(2026, 6, 1), end=date(2026, 5, 31)
        )
    assert caught.value.message_dict["end_date"] == [
        "The end date (May 31, 2026) is before the effective date (Jun 1, 2026)."
    ]
    assert not Contract.objects.exists()


def test_only_approved_providers_can_be_contracted(world):
    pending = OrganizationFactory(legal_name="Harbor Housing", onboarding_status=OnboardingStatus.SUBMITTED)
    with pytest.raises(ValidationError, match="Harbor Housing is not an approved provider"):
        draft_contract(world.plan, pending, world.contract_manager)
    with pytest.raises(ValidationError, match="A plan contracts with a CBO or a community care hub"):
        draft_contract(world.plan, world.other_plan, world.contract_manager)
    assert not Contract.objects.exists()


def test_contract_number_is_unique_per_plan(world):
    draft_contract(world.plan, world.cbo, world.contract_manager, number="PCHP-1")
    with pytest.raises(ValidationError, match="already has a contract numbered PCHP-1"):
        draft_contract(world.plan, world.other_cbo, world.contract_manager, number="pchp-1")
    draft_contract(
        world.other_plan, world.cbo, world.other_plan_manager, number="PCHP-1"
    )  # another plan: fine


def test_unknown_county_is_refused(world):
    with pytest.raises(ValidationError, match="“Gotham” is not a California county"):
        draft_contract(world.plan, world.cbo, world.contract_manager, counties=("Gotham",))
    assert not Contract.objects.exists()


def test_activation_records_history_and_needs_rates_and_counties(world):
    empty = draft_contract(world.plan, world.cbo, world.contract_manager)
    with pytest.raises(ValidationError, match="Add at least one rate line"):
        svc.activate(empty, acting_user=world.contract_manager)
    empty.refresh_from_db()
    assert empty.status == ContractStatus.DRAFT
    assert empty.status_history.count() == 1

    contract = active_contract(world.plan, world.cbo, world.contract_manager, number="PCHP-2")
    assert contract.status == ContractStatus.ACTIVE and contract.activated_at
    assert [h.to_status for h in contract.status_history.all()] == ["draft", "active"]
    assert contract.status_history.last().actor == world.contract_manager


def test_overlapping_active_contracts_for_the_same_service_are_refused(world):
    active_contract(world.plan, world.cbo, world.contract_manager, rates={"H0043-U6": "95"}, number="PCHP-1")
    second = draft_contract(
        world.plan,
        world.cbo,
        world.contract_manager,
        rates={"S5170-U6": "12"},
        number="PCHP-2",
        start=date(2026, 7, 1),
        end=date(2027, 6, 30),
    )
    from contracts.services.rates import add_rate_line
    from tests.contracts.factories import service

    with pytest.raises(ValidationError) as caught:
        add_rate_line(second, acting_user=world.contract_manager, service=service("H0043-U6"), rate="99")
    assert caught.value.messages == [
        "Overlaps contract PCHP-1 (active, Jan 1, 2026 to Dec 31, 2026), which already covers Housing "
        "Transition Navigation (H0043-U6) for Eastside Community Kitchen with Pacific Coast Health Plan."
    ]
    assert second.rate_lines.count() == 1
    # A different service over the same period is fine; so is the same service after the first ends.
    svc.activate(second, acting_user=world.contract_manager)
    later = draft_contract(
        world.plan,
        world.cbo,
        world.contract_manager,
        rates={"H0043-U6": "99"},
        number="PCHP-3",
        start=date(2027, 1, 1),
        end=None,
    )
    assert svc.activate(later, acting_user=world.contract_manager).status == ContractStatus.ACTIVE


def test_overlap_is_checked_again_at_activation(world):
    first = draft_contract(
        world.plan, world.cbo, world.contract_manager, rates={"H0043-U6": "95"}, number="A"
    )
    second = draft_contract(
        world.plan, world.cbo, world.contract_manager, rates={"H0043-U6": "96"}, number="B"
    )
    svc.activate(first, acting_user=world.contract_manager)
    with pytest.raises(ValidationError, match="Overlaps contract A"):
        svc.activate(second, acting_user=world.contract_manager)
    second.refresh_from_db()
    assert second.status == ContractStatus.DRAFT


def test_active_contract_keeps_its_terms_but_claim_settings_can_change(world):
    contract = active_contract(world.plan, world.cbo, world.contract_manager)
    with pytest.raises(ValidationError, match="end_date, start_date cannot be changed"):
        svc.update_contract(
            contract,
            acting_user=world.contract_manager,
            changes={"start_date": date(2026, 2, 1), "end_date": date(2027, 1, 1)},
        )
    updated = svc.update_contract(
        contract,
        acting_user=world.contract_manager,
        changes={"submitter_id": "EASTSIDE01", "timely_filing_days": 90},
    )
    assert (updated.submitter_id, updated.timely_filing_days) == ("EASTSIDE01", 90)


def test_draft_edit_validates_whole(world):
    contract = draft_contract(world.plan, world.cbo, world.contract_manager)
    with pytest.raises(ValidationError, match="Timely filing is between 1 and 730 days"):
        svc.update_contract(contract, acting_user=world.contract_manager, changes={"timely_filing_days": 0})
    contract.refresh_from_db()
    assert contract.timely_filing_days == 180


def test_terminate_needs_a_reason_and_a_date_in_the_period(world):
    contract = active_contract(world.plan, world.cbo, world.contract_manager)
    with pytest.raises(ValidationError, match="Say why"):
        svc.terminate(
            contract, acting_user=world.contract_manager, termination_date=date(2026, 6, 1), reason=" "
        )
    with pytest.raises(ValidationError, match="ends on Dec 31, 2026 anyway"):
        svc.terminate(
            contract, acting_user=world.contract_manager, termination_date=date(2027, 6, 1), reason="x"
        )
    done = svc.terminate(
        contract,
        acting_user=world.contract_manager,
        termination_date=date(2026, 6, 1),
        reason="Program closed",
    )
    assert (done.status, done.termination_date, done.last_covered_day) == (
        ContractStatus.TERMINATED,
        date(2026, 6, 1),
        date(2026, 5, 31),
    )
    assert done.status_history.last().comment == "Program closed"


def test_illegal_moves_are_refused(world):
    draft = draft_contract(world.plan, world.cbo, world.contract_manager, rates={"H0043-U6": "95"})
    with pytest.raises(IllegalTransition, match="draft cannot move to terminated"):
        svc.terminate(
            draft, acting_user=world.contract_manager, termination_date=date(2026, 6, 1), reason="x"
        )
    active = svc.activate(draft, acting_user=world.contract_manager)
    with pytest.raises(IllegalTransition):
        svc.activate(active, acting_user=world.contract_manager)


def test_expire_ended_contracts(world):
    contract = active_contract(world.plan, world.cbo, world.contract_manager)
    assert svc.expire_ended(today=date(2026, 12, 31)) == []
    assert [c.pk for c in svc.expire_ended(today=date(2027, 1, 1))] == [contract.pk]
    contract.refresh_from_db()
    assert contract.status == ContractStatus.EXPIRED
    assert contract.status_history.last().actor is None


def test_signed_document_must_be_a_pdf(world):
    contract = draft_contract(world.plan, world.cbo, world.contract_manager)
    with pytest.raises(ValidationError, match="as a PDF"):
        svc.upload_signed_document(
            contract, acting_user=world.contract_manager, upload=SimpleUploadedFile("c.pdf", b"GIF89a fake")
        )
    done = svc.upload_signed_document(
        contract,
        acting_user=world.contract_manager,
        upload=SimpleUploadedFile("signed.pdf", b"%PDF-1.7 body"),
    )
    assert done.signed_document_name == "signed.pdf"
    assert done.signed_document.read().startswith(b"%PDF-")
