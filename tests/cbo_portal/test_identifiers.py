import pytest

from cbo_portal import identifiers as ids


@pytest.mark.parametrize("npi", ["1234567893", "1245319599", "1457390189"])
def test_valid_npis_pass(npi):
    assert ids.npi_problem(npi) is None


@pytest.mark.parametrize(
    ("npi", "why"),
    [
        ("1234567890", "check digit"),
        ("3234567893", "starts with 1 or 2"),
        ("123456789", "10 digits"),
        ("12345678901", "10 digits"),
        ("12345A7893", "10 digits"),
        ("", "10 digits"),
    ],
)
def test_bad_npis_say_why(npi, why):
    assert why in ids.npi_problem(npi)


def test_luhn_digit_matches_cms_example():
    # CMS's worked example: 123456789 with prefix 80840 gives check digit 3.
    assert ids.luhn_check_digit("80840123456789") == 3


@pytest.mark.parametrize("tin", ["12-3456789", "123456789"])
def test_tin_accepts_nine_digits_with_or_without_dash(tin):
    assert ids.tin_problem(tin) is None
    assert ids.normalize_tin(tin) == "123456789"


@pytest.mark.parametrize("tin", ["12-345678", "1234567890", "12_3456789", "AB-CDEFGHI", "00-0000000"])
def test_malformed_tins_are_rejected(tin):
    assert ids.tin_problem(tin)


def test_cin_shape_and_warning():
    assert ids.cin_problem("91234567A") is None
    assert ids.cin_warning("91234567A") is None
    assert ids.cin_problem("1234567A") is not None
    assert ids.cin_problem("912345678") is not None
    # 8 digits + letter is accepted, but an unusual first digit or letter earns a warning.
    assert ids.cin_problem("81234567A") is None and ids.cin_warning("81234567A")
    assert ids.cin_warning("91234567B")


def test_codes():
    assert ids.hcpcs_problem("T2041") is None
    assert ids.hcpcs_problem("99213") is None
    assert ids.hcpcs_problem("T204") is not None
    assert ids.modifier_problem("U6") is None and ids.modifier_problem("U") is not None
    assert ids.icd10_problem("Z59.01") is None and ids.icd10_problem("Z5901") is None
    assert ids.icd10_problem("59.01") is not None
    assert ids.icd10_for_x12("z59.01") == "Z5901"
    assert ids.taxonomy_problem("251S00000X") is None and ids.taxonomy_problem("251S0000") is not None
