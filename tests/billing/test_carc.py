"""CARC/RARC/group code explanations."""

from __future__ import annotations

import pytest

from billing.x12 import carc

REQUIRED_CARCS = [
    "1",
    "2",
    "3",
    "16",
    "18",
    "22",
    "23",
    "24",
    "27",
    "29",
    "31",
    "39",
    "45",
    "50",
    "96",
    "97",
    "109",
    "119",
    "140",
    "146",
    "181",
    "182",
    "197",
    "204",
    "242",
    "252",
]


@pytest.mark.parametrize("code", REQUIRED_CARCS)
def test_common_carcs_have_a_description_and_advice(code):
    info = carc.carc(code)
    assert info.known and info.code == code
    assert len(info.description) > 15 and len(info.advice) > 15


@pytest.mark.parametrize("code", ["N30", "N54", "M62", "MA130", "N362", "N522"])
def test_common_rarcs_are_explained(code):
    info = carc.rarc(code.lower())
    assert info.known and info.code == code and info.advice


def test_unknown_codes_fall_back_clearly():
    info = carc.carc("A9")
    assert not info.known and "not in our summary table" in info.description and "x12.org" in info.advice
    assert not carc.rarc("ZZ999").known
    assert not carc.group("XX").known


def test_group_codes_and_adjustment_lines():
    assert {g: carc.group(g).known for g in ("CO", "OA", "PI", "PR")} == dict.fromkeys(
        ("CO", "OA", "PI", "PR"), True
    )
    assert carc.describe_adjustment("co", "197").startswith("CO-197 Contractual obligation: Authorization")
    assert "do not bill the member" in carc.group("CO").advice


def test_tables_are_marked_as_a_summary():
    for name in ("carc.csv", "rarc.csv"):
        first = (carc.DATA_DIR / name).read_text().splitlines()[0]
        assert first.startswith("# SUMMARY") and "NOT the official" in first
