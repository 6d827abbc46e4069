"""999 acknowledgements: written files are pyx12-clean; the parser gives readable verdicts."""

from __future__ import annotations

import pytest

from billing.x12.ack999 import AckRequest, ElementError, SegmentError, parse_999, render_999
from billing.x12.common import X12ParseError
from billing.x12.validate import validate_x12
from tests.billing.x12_fixtures import envelope_835

CLM_ERROR = SegmentError(
    "CLM", 23, "8", "2300", "C0000005", elements=(ElementError("5:3", "1325", "7", "9"),)
)


def test_accept_all():
    text = render_999(envelope_835(), [AckRequest(17, ["0001", "0002"])])
    assert validate_x12(text).errors == []
    (ack,) = parse_999(text)
    assert (ack.functional_id, ack.group_control_number, ack.version) == ("HC", "17", "005010X222A1")
    assert ack.status == "A" and (ack.sets_included, ack.sets_received, ack.sets_accepted) == (2, 2, 2)
    assert ack.accepted_control_numbers == ["0001", "0002"] and ack.rejected_control_numbers == []


def test_partial_rejection_names_the_claim_segment_and_element():
    text = render_999(
        envelope_835(), [AckRequest(17, ["0001", "0002", "0003"], rejected={"0002": [CLM_ERROR]})]
    )
    assert validate_x12(text).errors == []
    (ack,) = parse_999(text)
    assert ack.status == "P" and ack.sets_accepted == 2
    assert ack.rejected_control_numbers == ["0002"]
    rejected = ack.set_for("0002")
    assert rejected is not None and not rejected.accepted and rejected.error_codes == ("5",)
    assert rejected.segment_errors == (CLM_ERROR,)
    messages = rejected.messages()
    assert messages[0] == "transaction set 837 0002: rejected — One or more segments in error"
    assert messages[1] == (
        "transaction set 0002: CLM segment #23 in loop 2300 (claim C0000005): Segment has data element errors; "
        "element 5:3 (data element 1325): Invalid code value — value '9'"
    )


def test_all_rejected_gives_ak9_r():
    text = render_999(envelope_835(), [AckRequest(3, ["0001"], rejected={"0001": []})])
    assert validate_x12(text).errors == []
    (ack,) = parse_999(text)
    assert ack.status == "R" and ack.rejected_control_numbers == ["0001"]


def test_parses_a_999_from_pyx12_itself():
    """pyx12 answers a broken 837 with a 999; our parser reads it."""
    from billing.x12.claim837 import render_837
    from tests.billing.x12_fixtures import claim, envelope, group

    text, _ = render_837(envelope(), [group([claim(1)])])
    result = validate_x12(text.replace("SBR*P*18", "SBR*Q*18"))
    (ack,) = parse_999(result.ack)
    assert ack.status == "R" and ack.rejected_control_numbers == ["0001"]
    assert any(e.segment_id == "SBR" for e in ack.sets[0].segment_errors)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not x12 at all", "does not start with an ISA"),
        (render_999(envelope_835(), [AckRequest(1, ["0001"])]).replace("GS*FA", "GS*HC"), "not FA"),
        (render_999(envelope_835(), [AckRequest(1, ["0001"])]).replace("IK5*A", "IK5*Q"), "IK501 'Q'"),
    ],
)
def test_garbage_raises_a_clear_error(text, message):
    with pytest.raises(X12ParseError, match=message):
        parse_999(text)
