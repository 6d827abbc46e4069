"""The one CSV writer every export uses: ``csv.writer`` with formula-leading cells neutralised.

A spreadsheet runs a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, in some, one that
begins with a tab or a carriage return) as a formula, so a member's name or a plan's note such as
``=HYPERLINK(...)`` would run on the coordinator's machine when the file is opened (CSV
injection). OWASP's rule: prefix such a cell with a single quote ``'``, which makes the
spreadsheet show the text as it is.

One exception: a cell that is a plain number (``-12.50``, ``+3``, ``-7``; digits with an optional
sign and decimals, nothing else) is left alone. It cannot be a formula, and quoting it would turn
a negative amount (an adjustment, a recoupment) into text that no longer adds up in the sheet.
Numbers (``int``, ``Decimal``, ``float``) are written as they are; every other value is written as
its text and checked.

Use it exactly like ``csv``: ``csvsafe.writer(out).writerow([...])`` returns what the underlying
file's ``write`` returned, so the streaming pattern (an object whose ``write`` returns its argument)
keeps working.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def neutralise(value: Any) -> Any:
    """The cell as written: numbers, dates and blanks unchanged; text starting a formula gets a
    leading ``'`` unless it is a plain number."""
    if value is None or isinstance(value, (bool, int, float, Decimal, date, datetime)):
        return value  # bool is an int; dates print as digits and dashes, never with a sign first
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class SafeWriter:
    """A ``csv.writer`` whose rows are neutralised cell by cell (see the module docstring)."""

    def __init__(self, out: Any, *args: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(out, *args, **kwargs)

    @property
    def dialect(self) -> Any:
        return self._writer.dialect

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: Any, *args: Any, **kwargs: Any) -> SafeWriter:
    """Drop-in for ``csv.writer``."""
    return SafeWriter(out, *args, **kwargs)


class Echo:
    """A file whose ``write`` hands back what it was given, for streamed responses."""

    def write(self, value: str) -> str:
        return value


def stream(rows: Iterable[Iterable[Any]]) -> Iterable[str]:
    """Each row as one neutralised CSV line, for a ``StreamingHttpResponse``."""
    out = writer(Echo())
    for row in rows:
        yield out.writerow(row)
