"""835 remittances: written files are pyx12-clean; the parser reads them back, balances them and
refuses what does not add up or is not an 835."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal

import pytest

from billing.x12.common import X12InputError, X12ParseError
from billing.x12.remit835 import (
    Adjustment,
    ClaimPayment,
    ProviderAdjustment,
    RemittanceBalanceError,
    RemittanceEnd,
    RemittanceStart,
    iter_835,
    parse_835,
)
from billing.x12.remit835_writer import AchDetails, render_835
from billing.x12.validate import validate_x12
from tests.billing.x12_fixtures import (
    PAYER_DETAILS,
    bulk_claim_payments,
    claim_payment,
    envelope_835,
    remittance,
    service_payment,
)

D = Decimal


def round_trip(rem, **options) -> tuple[str, object]:
    text = render_835(envelope_835(), rem, PAYER_DETAILS, **options)
    result = validate_x12(text)
    assert result.errors == []
    assert result.ok
    (parsed,) = parse_835(text)
    return text, parsed


def test_full_payment():
    claim = claim_payment("C1", "1", (service_payment("350", "350", allowed="350"),))
    _, rem = round_trip(remittance((claim,)))
    assert rem.total_paid == D("350") and rem.handling_code == "I" and rem.payment_method == "CHK"
    assert rem.trace_number == "CHK0042001" and rem.payment_date == dt.date(2025, 4, 10)
    assert (rem.payer_name, rem.payer_id, rem.payee_name, rem.payee_npi) == (
        "L.A. Care Health Plan",
        "LACARE01",
        "Casa Esperanza Community Services",
        "1234567893",
    )
    (got,) = rem.claims
    assert got == claim
    assert got.services[0].allowed == D("350") and got.services[0].line_control_number == "L1"


def test_partial_payment_with_contractual_adjustment_co45():
    line1 = service_payment(
        "125.50", "101", Adjustment("CO", "45", D("24.50")), line_control="L1", allowed="101"
    )
    line2 = service_payment("87.25", "87.25", code="H0043", mods=("U6",), line_control="L2", units="2")
    _, rem = round_trip(remittance((claim_payment("C2", "1", (line1, line2)),)))
    (claim,) = rem.claims
    assert claim.charge == D("212.75") and claim.paid == D("188.25")
    assert claim.services[0].adjustments == (Adjustment("CO", "45", D("24.5")),)
    assert claim.services[1].units == D("2") and claim.services[1].modifiers == ("U6",)
    assert claim.adjustment_total == claim.charge - claim.paid


def test_denial_co197_with_remark_codes():
    line = service_payment("165", "0", Adjustment("CO", "197", D("165")), rarc=("N54", "M62"))
    _, rem = round_trip(remittance((claim_payment("C3", "4", (line,)),)))
    (claim,) = rem.claims
    assert claim.is_denied and claim.paid == 0 and rem.total_paid == 0
    assert claim.services[0].remark_codes == ("N54", "M62")


def test_patient_responsibility_deductible_and_coinsurance_at_claim_level():
    claim = claim_payment(
        "C4",
        "1",
        (service_payment("200", "150", line_control="L1"),),
        charge="200",
        paid="150",
        patient_responsibility="50",
        adjustments=(Adjustment("PR", "1", D("30")), Adjustment("PR", "2", D("20"))),
    )
    # the line's own adjustments would double count: put them only at claim level
    claim = ClaimPayment(**{**claim.__dict__, "services": (service_payment("200", "200"),)})
    text, rem = round_trip(remittance((claim,)))
    assert "CAS*PR*1*30**2*20~" in text  # one CAS segment, two triplets
    (got,) = rem.claims
    assert got.patient_responsibility == D("50")
    assert [(a.group, a.reason, a.amount) for a in got.adjustments] == [
        ("PR", "1", D("30")),
        ("PR", "2", D("20")),
    ]


def test_cas_with_more_than_six_triplets_is_split_and_read_back():
    adjustments = tuple(Adjustment("CO", str(reason), D("1")) for reason in (45, 94, 97, 119, 151, 222, 253))
    line = service_payment("107", "100", *adjustments)
    text, rem = round_trip(remittance((claim_payment("C5", "1", (line,)),)))
    assert len(re.findall(r"CAS\*CO", text)) == 2
    assert rem.claims[0].services[0].adjustments == adjustments


def test_provider_level_interest_and_recoupment():
    claims = (claim_payment("C6", "1", (service_payment("350", "350"),)),)
    plbs = (ProviderAdjustment("L6", "", D("-4.12")), ProviderAdjustment("WO", "PCNC0000042", D("125.50")))
    text, rem = round_trip(remittance(claims, plbs))
    assert "PLB*1234567893*20251231*L6*-4.12*WO:PCNC0000042*125.5~" in text
    assert rem.total_paid == D("350") + D("4.12") - D("125.50")
    assert [(p.reason, p.reference, p.amount) for p in rem.provider_adjustments] == [
        ("L6", "", D("-4.12")),
        ("WO", "PCNC0000042", D("125.5")),
    ]
    assert rem.provider_adjustments[0].fiscal_period_date == dt.date(2025, 12, 31)


def test_reversal_and_readjudication_of_the_same_claim():
    reversal = claim_payment(
        "C7", "22", (service_payment("-125.50", "-101", Adjustment("CO", "45", D("-24.50"))),)
    )
    corrected = claim_payment("C7", "1", (service_payment("125.50", "125.50"),))
    _, rem = round_trip(remittance((reversal, corrected)))
    first, second = rem.claims
    assert first.is_reversal and first.paid == D("-101") and first.charge == D("-125.5")
    assert second.patient_control_number == first.patient_control_number == "C7"
    assert rem.total_paid == D("24.5")


def test_ach_payment_header_is_clean():
    claims = (claim_payment("C8", "1", (service_payment("100", "100"),)),)
    ach = AchDetails("121000358", "1234567", "322271627", "7654321", "1951111111")
    text, rem = round_trip(remittance(claims, method="ACH"), ach=ach)
    assert "BPR*I*100*C*ACH*CCP*01*121000358*DA*1234567*1951111111**01*322271627*DA*7654321*20250410~" in text
    assert rem.payment_method == "ACH"


def test_unbalanced_payment_names_the_numbers():
    claims = (claim_payment("C9", "1", (service_payment("100", "100"),)),)
    plbs = (ProviderAdjustment("WO", "X1", D("10")),)
    text = render_835(
        envelope_835(), remittance(claims, plbs, total=D("95")), PAYER_DETAILS, check_balance=False
    )
    with pytest.raises(RemittanceBalanceError) as caught:
        parse_835(text)
    err = caught.value
    assert err.kind == "payment" and err.actual == D("95") and err.expected == D("90")
    assert "BPR02 total paid is 95" in str(err) and "Σ CLP04 claim payments 100" in str(err)
    assert "Σ PLB provider adjustments 10" in str(err) and "= 90" in str(err)
    assert parse_835(text, check_balance=False)[0].total_paid == D("95")


def test_unbalanced_claim_and_line_name_the_numbers():
    bad_line = service_payment("100", "80", Adjustment("CO", "45", D("15")), line_control="L77")
    text = render_835(
        envelope_835(),
        remittance((claim_payment("C10", "1", (bad_line,)),)),
        PAYER_DETAILS,
        check_balance=False,
    )
    with pytest.raises(
        RemittanceBalanceError,
        match=r"service line L77 of claim C10 .* = 20, but its CAS adjustments total 15",
    ) as caught:
        parse_835(text)
    assert caught.value.kind == "line" and caught.value.segment_id == "SVC"
    claim = claim_payment("C11", "1", (service_payment("100", "100"),), charge="120", paid="100")
    text = render_835(envelope_835(), remittance((claim,)), PAYER_DETAILS, check_balance=False)
    with pytest.raises(
        RemittanceBalanceError,
        match=r"claim C11 does not balance: CLP03 charge 120 − CLP04 paid 100 = 20, but its CAS adjustments total 0",
    ) as caught:
        parse_835(text)
    assert caught.value.segment_number == 15  # ISA GS ST BPR TRN DTM N1 N3 N4 REF PER N1 REF LX, then CLP


def test_writer_refuses_unbalanced_data_by_default():
    claim = claim_payment("C12", "1", (service_payment("100", "100"),), charge="120", paid="100")
    with pytest.raises(X12InputError, match="C12"):
        render_835(envelope_835(), remittance((claim,)), PAYER_DETAILS)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: "garbage that is not X12", "does not start with an ISA"),
        (lambda t: "", "does not start with an ISA"),
        (lambda t: t[:50], "does not start with an ISA|truncated"),
        (lambda t: t.replace("GS*HP", "GS*HC"), "not HP"),
        (lambda t: t.replace("CLP*C1*1*350", "CLP*C1*99*350"), "CLP02 claim status '99'"),
        (
            lambda t: t.replace("CLP*C1*1*350", "CLP*C1*1*3x0"),
            r"claim charge \(CLP03\) '3x0' is not a number",
        ),
        (lambda t: t.replace("CAS*CO*45", "CAS*XX*45"), "CAS01 adjustment group 'XX'"),
        (lambda t: t.replace("BPR*I", "BPR*I").replace("*20250410~", "*20251340~", 1), "BPR16 payment date"),
        (lambda t: t.replace("LX*1~", "LX*1~SVC*HC:G9008*1*1~"), "SVC outside a claim"),
        (lambda t: t.split("SE*")[0], "ends before its IEA|truncated"),
        (lambda t: t.replace("SE*", "SE*9", 1), "SE01 says"),
        (lambda t: t.replace("IEA*1*", "IEA*2*"), "IEA01 says '2'"),
        (lambda t: t.replace("NM1*QC*1*Garcia*Ana****MI*91234567A~", ""), "no NM1\\*QC"),
    ],
)
def test_bad_files_raise_a_clear_parse_error_naming_the_segment(mutate, message):
    claim = claim_payment("C1", "1", (service_payment("350", "300", Adjustment("CO", "45", D("50"))),))
    text = mutate(render_835(envelope_835(), remittance((claim,)), PAYER_DETAILS))
    with pytest.raises(X12ParseError, match=message) as caught:
        parse_835(text)
    assert "segment" in str(caught.value)


def test_streaming_yields_start_claims_end_and_reads_files_in_chunks():
    claims = tuple(bulk_claim_payments(50))
    plbs = (ProviderAdjustment("L6", "", D("-1.5")),)
    text = render_835(envelope_835(), remittance(claims, plbs), PAYER_DETAILS, newline=True)
    events = list(iter_835(io.StringIO(text)))
    assert isinstance(events[0], RemittanceStart) and isinstance(events[-1], RemittanceEnd)
    assert [e for e in events[1:-1]] == list(claims)
    end = events[-1]
    assert end.claim_count == 50 and end.claims_paid == sum((c.paid for c in claims), D(0))
    assert end.remittance.provider_adjustments == (
        ProviderAdjustment("L6", "", D("-1.5"), "1234567893", dt.date(2025, 12, 31)),
    )
    # a file object read in tiny chunks gives the same result as the string
    from billing.x12.common import SegmentReader

    assert list(SegmentReader(io.StringIO(text), chunk_size=7)) == list(SegmentReader(text))


def test_a_bulk_835_is_clean_for_pyx12():
    claims = tuple(bulk_claim_payments(40))
    text, rem = round_trip(remittance(claims, (ProviderAdjustment("WO", "PCN1", D("20")),)))
    assert len(rem.claims) == 40 and rem.claims == claims
