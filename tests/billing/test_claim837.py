"""The 837P writer: every scenario we generate is clean for pyx12 and for our own checks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import subprocess
import sys
from decimal import Decimal

import pytest

from billing.x12.checks import check_837
from billing.x12.claim837 import (
    Address,
    SetAssignment,
    assign_transaction_sets,
    render_837,
    write_837,
)
from billing.x12.common import X12InputError, fmt_decimal
from billing.x12.validate import validate_x12
from tests.billing.x12_fixtures import (
    IEHP,
    OTHER_PROVIDER,
    PROVIDER,
    RECEIVER_IEHP,
    bulk_claims,
    claim,
    envelope,
    group,
    line,
)


def segments(text: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip()]


def assert_clean(text: str) -> None:
    ok, errors = validate_x12(text)
    assert errors == []
    assert ok
    assert check_837(text) == []


def test_single_line_claim_is_clean_and_has_the_expected_segments():
    text, result = render_837(envelope(), [group([claim(1)])])
    assert_clean(text)
    segs = segments(text)
    assert segs[0].startswith(
        "ISA*00*          *00*          *ZZ*CASAESP        *ZZ*LACARE01       *250314*0926*^*00501*000000001*0*T*:"
    )
    assert len(segs[0]) == 105  # 106 with the terminator
    assert segs[1] == "GS*HC*CASAESP*LACARE01*20250314*0926*1*X*005010X222A1"
    assert segs[2] == "ST*837*0001*005010X222A1"
    assert segs[3] == "BHT*0019*00*B20250314*20250314*0926*CH"
    assert "PRV*BI*PXC*251S00000X" in segs
    assert "NM1*85*2*CASA ESPERANZA COMMUNITY SERVICES*****XX*1234567893" in segs
    assert "REF*EI*951234567" in segs
    assert "SBR*P*18*******MC" in segs
    assert "NM1*IL*1*NGUYEN*ANA****MI*90000001A" in segs
    assert "NM1*PR*2*L.A. CARE HEALTH PLAN*****PI*LACARE01" in segs
    (clm,) = [s for s in segs if s.startswith("CLM*")]
    sv1 = [s for s in segs if s.startswith("SV1*")]
    assert clm == "CLM*C0000001*24.8***12:B:1*Y*A*Y*Y"
    assert sv1 == ["SV1*HC:S5170:U6*24.8*UN*2***1"]
    assert "REF*G1*AUTH000001" in segs and not any(s.startswith("REF*F8") for s in segs)
    assert "HI*ABK:Z5901*ABF:Z5941" in segs
    assert segs[-3] == f"SE*{len(segs) - 4}*0001"
    assert segs[-2:] == ["GE*1*1", "IEA*1*000000001"]
    assert result.claim_count == 1 and result.segment_count == len(segs)
    assert result.claim_sets == {"C0000001": SetAssignment(1, "0001")}


def test_fifty_lines_several_diagnoses_and_date_ranges_are_clean():
    dx = (
        "Z59.01",
        "Z59.02",
        "Z59.41",
        "Z59.6",
        "Z59.811",
        "Z59.5",
        "Z59.00",
        "Z59.1",
        "Z59.48",
        "Z59.82",
        "Z59.89",
        "Z59.9",
    )
    lines = tuple(
        line(
            i,
            day=1 + i % 20,
            pointers=tuple(1 + (i + k) % 12 for k in range(1 + i % 4)),
            service_date_end=dt.date(2025, 2, 25) if i % 3 == 0 else None,
        )
        for i in range(50)
    )
    big = claim(7, diagnosis_codes=dx, lines=lines)
    text, result = render_837(envelope(), [group([big, claim(8, lines=3)])])
    assert_clean(text)
    segs = segments(text)
    assert sum(s.startswith("LX*") for s in segs) == 53
    assert "DTP*472*RD8*20250201-20250225" in segs
    assert (
        "HI*ABK:Z5901*ABF:Z5902*ABF:Z5941*ABF:Z596*ABF:Z59811*ABF:Z595*ABF:Z5900*ABF:Z591*ABF:Z5948*ABF:Z5982*ABF:Z5989*ABF:Z599"
        in segs
    )
    assert any(s.endswith("**4:5:6:7") for s in segs)
    (clm,) = [s for s in segs if s.startswith("CLM*C0000007")]
    assert clm.split("*")[2] == fmt_decimal(sum((ln.charge for ln in lines), Decimal(0)))
    assert result.line_count == 53


def test_replacement_and_void_carry_the_payer_claim_number():
    replacement = claim(11, frequency="7", payer_claim_number="2025031400123")
    void = claim(12, frequency="8", payer_claim_number="2025031400456", prior_authorization=None)
    text, _ = render_837(envelope(), [group([replacement, void])])
    assert_clean(text)
    segs = segments(text)
    assert f"CLM*C0000011*{fmt_decimal(replacement.total_charge)}***12:B:7*Y*A*Y*Y" in segs
    assert segs[segs.index("REF*G1*AUTH000011") + 1] == "REF*F8*2025031400123"
    void_at = segs.index(next(s for s in segs if s.startswith("CLM*C0000012")))
    assert segs[void_at].split("*")[5] == "12:B:8"
    assert segs[void_at + 1] == "REF*F8*2025031400456"


def test_two_plans_in_one_interchange_as_two_functional_groups():
    la = group([claim(1), claim(2, lines=2)], gs=101)
    iehp = group([claim(3, payer=IEHP), claim(4, payer=IEHP)], gs=102, receiver=RECEIVER_IEHP, batch="B2")
    text, result = render_837(envelope(), [la, iehp])
    assert_clean(text)
    segs = segments(text)
    assert [s.split("*")[6] for s in segs if s.startswith("GS*")] == ["101", "102"]
    assert segs[-1] == "IEA*2*000000001"
    assert "NM1*PR*2*INLAND EMPIRE HEALTH PLAN*****PI*IEHP0001" in segs
    assert result.claim_sets["C0000003"] == SetAssignment(102, "0001")
    assert result.group_count == 2


def test_hub_bills_for_two_providers_and_members_share_a_subscriber_loop():
    claims = [claim(1, member=5), claim(2, member=5), claim(3, member=6, provider=OTHER_PROVIDER)]
    text, _ = render_837(envelope(), [group(claims)])
    assert_clean(text)
    segs = segments(text)
    assert [s for s in segs if s.startswith("HL*")] == [
        "HL*1**20*1",
        "HL*2*1*22*0",
        "HL*3**20*1",
        "HL*4*3*22*0",
    ]


def test_more_claims_than_the_set_limit_open_new_transaction_sets_in_one_group():
    claims = list(bulk_claims(7))
    text, result = render_837(envelope(), [group(claims)], max_claims_per_set=3)
    assert_clean(text)
    segs = segments(text)
    assert [s for s in segs if s.startswith("ST*")] == [f"ST*837*000{i}*005010X222A1" for i in (1, 2, 3)]
    assert segs[-2] == "GE*3*1"
    assert [s.claim_count for s in result.sets] == [3, 3, 1]
    expected = dict(
        assign_transaction_sets(
            [c.control_number for c in claims], group_control_number=1, max_claims_per_set=3
        )
    )
    assert result.claim_sets == expected
    assert result.claim_sets["C0000006"] == SetAssignment(1, "0003")
    # every set repeats BHT, submitter, receiver and restarts HL numbering
    assert sum(s.startswith("BHT*") for s in segs) == 3
    assert sum(s == "HL*1**20*1" for s in segs) == 3


def test_claims_carrying_their_set_numbers_open_a_set_where_the_number_changes():
    """A batch stamps each claim with its ST02; the writer follows the stamps (gaps allowed, as
    numbers reserved by another batch in between are skipped) and refuses what breaks the rules."""
    claims = list(bulk_claims(5))
    stamped = dataclasses.replace(group(claims), set_numbers=[7, 7, 9, 9, 9])
    text, result = render_837(envelope(), [stamped], max_claims_per_set=3)
    assert_clean(text)
    assert [(s.set_control_number, s.claim_count) for s in result.sets] == [("0007", 2), ("0009", 3)]
    assert result.claim_sets["C0000002"] == SetAssignment(1, "0009")

    refused = {
        "must increase": [9, 9, 7, 7, 7],
        "more than 3 claims": [7, 7, 7, 7, 9],
        "more claims than set numbers": [7, 7, 7],
    }
    for message, numbers in refused.items():
        with pytest.raises(X12InputError, match=message):
            render_837(
                envelope(), [dataclasses.replace(group(claims), set_numbers=numbers)], max_claims_per_set=3
            )


def test_subscriber_loop_splits_at_100_claims():
    claims = [claim(n, member=42) for n in range(230)]
    text, _ = render_837(envelope(), [group(claims)])
    segs = segments(text)
    subscriber_loops = [i for i, s in enumerate(segs) if s.startswith("HL*") and s.endswith("*22*0")]
    assert len(subscriber_loops) == 3
    counts = [
        sum(s.startswith("CLM*") for s in segs[a:b])
        for a, b in zip(subscriber_loops, subscriber_loops[1:] + [len(segs)], strict=True)
    ]
    assert counts == [100, 100, 30]
    assert check_837(text) == []


def test_big_run_splits_into_sets_of_5000_and_stays_consistent():
    out = io.StringIO()
    result = write_837(out, envelope(), [group(bulk_claims(12_001))], track_claims=True)
    assert [s.claim_count for s in result.sets] == [5000, 5000, 2001]
    assert [s.set_control_number for s in result.sets] == ["0001", "0002", "0003"]
    assert result.claim_sets["C0005000"] == SetAssignment(1, "0002")
    text = out.getvalue()
    assert check_837(text) == []
    assert text.count("~ST*837*") == 3
    assert sum(s.segment_count for s in result.sets) + 4 == result.segment_count == text.count("~")


def test_money_is_written_without_trailing_zeros_or_separators():
    assert [
        fmt_decimal(Decimal(v))
        for v in ("125", "125.00", "125.50", "125.25", "1250000.10", "0", "-3.10", "1E+2")
    ] == ["125", "125", "125.5", "125.25", "1250000.1", "0", "-3.1", "100"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: claim(1, lines=51), "at most 50"),
        (lambda: claim(1, diagnosis_codes=tuple(f"Z59.{i}" for i in range(13))), "diagnosis codes"),
        (lambda: claim(1, frequency="7"), "REF*F8"),
        (lambda: claim(1, payer_claim_number="X1"), "must not carry a payer claim number"),
        (lambda: claim(1, diagnosis_codes=("Z59.01",), lines=(line(1, pointers=(2,)),)), "pointer 2"),
        (
            lambda: claim(1, provider=PROVIDER.__class__(**{**PROVIDER.__dict__, "npi": "1234567890"})),
            "check digit",
        ),
        (
            lambda: claim(
                1,
                provider=PROVIDER.__class__(
                    **{**PROVIDER.__dict__, "address": Address("PO Box 12", "LA", "CA", "900171906")}
                ),
            ),
            "PO box",
        ),
        (
            lambda: claim(
                1,
                provider=PROVIDER.__class__(
                    **{**PROVIDER.__dict__, "address": Address("1 Main St", "LA", "CA", "90017")}
                ),
            ),
            "9 digits",
        ),
        (lambda: claim(1, control_number="C*1"), "delimiter"),
        (lambda: claim(1, lines=(line(1, charge=Decimal("-1")),)), "negative"),
        (
            lambda: claim(
                1, lines=(line(1, service_date=dt.date(2025, 2, 5), service_date_end=dt.date(2025, 2, 1)),)
            ),
            "ends before",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(make, message):
    with pytest.raises(X12InputError, match=message.replace("*", r"\*")):
        render_837(envelope(), [group([make()])])


def test_duplicate_claim_control_numbers_are_refused():
    with pytest.raises(X12InputError, match="CLM01 appears twice"):
        render_837(envelope(), [group([claim(1), claim(1)])])


def test_free_text_delimiters_are_replaced():
    odd = claim(
        1,
        subscriber=claim(1).subscriber.__class__(
            **{**claim(1).subscriber.__dict__, "last_name": "O*Brien~Jr"}
        ),
    )
    text, _ = render_837(envelope(), [group([odd])])
    assert "NM1*IL*1*O BRIEN JR*ANA****MI*90000001A" in segments(text)


def test_names_outside_the_x12_basic_character_set_are_transliterated_and_pass_pyx12():
    """Issue #16 item 8: a member named Peña José went out in UTF-8, which pyx12 rejects."""
    sub = claim(1).subscriber
    accented = claim(
        1,
        subscriber=sub.__class__(
            **{
                **sub.__dict__,
                "last_name": "Peña",
                "first_name": "José",
                "address": sub.address.__class__("12 Calle Núñez #4", "San José", "CA", "95112"),
            }
        ),
    )
    text, _ = render_837(envelope(), [group([accented])])
    assert "NM1*IL*1*PENA*JOSE****MI*90000001A" in segments(text)
    assert "N3*12 CALLE NUNEZ 4" in segments(text) and "N4*SAN JOSE*CA*95112" in segments(text)
    assert text.isascii()
    assert_clean(text)


def test_the_x12_layer_imports_no_django():
    code = (
        "import sys, billing.x12.claim837, billing.x12.checks, billing.x12.remit835, billing.x12.ack999, "
        "billing.x12.carc, billing.x12.validate, billing.sftp; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'celery')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
