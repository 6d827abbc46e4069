"""Our own 837 checks catch what pyx12 lets through."""

from __future__ import annotations

import re

from billing.x12.checks import check_837
from billing.x12.claim837 import render_837
from billing.x12.validate import validate_x12
from tests.billing.x12_fixtures import claim, envelope, group


def good_file() -> str:
    text, _ = render_837(
        envelope(), [group([claim(1, lines=2), claim(2, frequency="7", payer_claim_number="PCN9")])]
    )
    return text


def test_a_generated_file_is_clean():
    assert check_837(good_file()) == []


def test_wrong_total_charge_is_reported_and_pyx12_does_not_notice():
    text = re.sub(r"CLM\*C0000001\*[0-9.]+", "CLM*C0000001*999.99", good_file())
    assert validate_x12(text).ok  # pyx12 cannot see this
    (problem,) = check_837(text)
    assert "claim C0000001" in problem and "CLM02 total charge 999.99" in problem and "519.8" in problem


def test_bad_npi_check_digit_is_reported():
    text = good_file().replace("XX*1234567893", "XX*1234567890")
    assert validate_x12(text).ok
    (problem,) = check_837(text)
    assert "NM1*85" in problem and "check digit" in problem


def test_pointer_to_a_missing_diagnosis_is_reported():
    text = good_file().replace("*UN*2***1~", "*UN*2***1:3~", 1)
    (problem,) = check_837(text)
    assert "diagnosis pointer '3'" in problem and "2 diagnosis code(s)" in problem and "line 1" in problem


def test_missing_f8_on_a_replacement_and_f8_on_an_original_are_reported():
    text = good_file().replace("REF*F8*PCN9~", "")
    assert any("frequency 7" in p and "REF*F8" in p for p in check_837(text))
    text = good_file().replace("REF*G1*AUTH000001~", "REF*G1*AUTH000001~REF*F8*X~")
    assert any("frequency 1" in p for p in check_837(text))


def test_counts_and_duplicate_claim_numbers_are_reported():
    text = good_file()
    se = re.search(r"SE\*(\d+)\*0001", text)
    assert se
    broken = (
        text.replace(se.group(0), f"SE*{int(se.group(1)) + 1}*0001")
        .replace("GE*1*1", "GE*2*1")
        .replace("IEA*1*", "IEA*3*")
    )
    problems = check_837(broken)
    assert any(p.startswith("segment") and "SE01" in p for p in problems)
    assert any("GE01 says '2'" in p for p in problems)
    assert any("IEA01 says '3'" in p for p in problems)
    dup = text.replace("CLM*C0000002", "CLM*C0000001")
    assert any("C0000001 (CLM01) already used" in p for p in check_837(dup))


def test_garbage_is_a_problem_not_a_crash():
    (problem,) = check_837("hello, world")
    assert "not a readable X12 file" in problem and "ISA" in problem
