"""The one CSV writer: formula-leading text is neutralised, plain numbers (negative amounts) are not."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from cbo_portal import csvsafe


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1 213 555 0100", "'+1 213 555 0100"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-", "'-"),
        ("Garcia", "Garcia"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_formula_leading_text_gets_a_quote(cell, written):
    assert csvsafe.neutralise(cell) == written


@pytest.mark.parametrize("cell", ["-12.50", "+3", "-7", "12.50", "0"])
def test_plain_numbers_in_text_are_left_alone(cell):
    assert csvsafe.neutralise(cell) == cell


@pytest.mark.parametrize("cell", ["-12.50.1", "-1e5", "-12,50", "- 12.50", "-12.50 "])
def test_only_plain_numbers_escape_the_rule(cell):
    assert csvsafe.neutralise(cell) == "'" + cell


def test_numbers_dates_and_blanks_are_written_as_they_are():
    out = io.StringIO()
    csvsafe.writer(out).writerow([Decimal("-12.50"), -3, 1.5, True, None, date(2025, 2, 3), "=1+1"])
    assert out.getvalue() == "-12.50,-3,1.5,True,,2025-02-03,'=1+1\r\n"


def test_a_spreadsheet_reading_the_file_sees_the_text_and_the_amount():
    out = io.StringIO()
    writer = csvsafe.writer(out)
    writer.writerows([["member", "adjustment"], ['=IMPORTXML("http://x","//a")', Decimal("-12.50")]])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[1] == ['\'=IMPORTXML("http://x","//a")', "-12.50"]


def test_stream_yields_one_line_per_row():
    assert list(csvsafe.stream([["a", "=b"], [Decimal("-1.00"), "@c"]])) == ["a,'=b\r\n", "-1.00,'@c\r\n"]
