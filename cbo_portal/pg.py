"""PostgreSQL literals built in Python for the bulk paths (imports, remittances)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def needs_copy_escape(text: str) -> bool:
    return _NEEDS_ESCAPE.search(text) is not None


def copy_escape(text: str) -> str:
    """Text as one value of ``COPY``'s text format (backslash, tab, newline and carriage return
    escaped); most values need nothing, so look before copying."""
    return text.translate(_COPY_ESCAPES) if _NEEDS_ESCAPE.search(text) else text


def array_literal(values: Iterable[object]) -> str:
    """A one-dimensional PostgreSQL array literal (``{1,2}``, ``{"a","b"}``; None is NULL), cast
    by the statement to its element type. Django's psycopg cursor binds parameters on the client,
    and its generic list adapter costs more than the statement itself for thousands of values;
    this is one ``join``. Numbers go as they print, anything else quoted and escaped."""
    values = list(values)
    kinds = set(map(type, values))
    if kinds <= {int, Decimal}:  # ids and amounts, the usual case
        return "{" + ",".join(map(str, values)) + "}"
    if kinds == {str}:
        body = "\0".join(values)  # NUL stands for the separator, unless a value holds one
        if '"' not in body and "\\" not in body and body.count("\0") == len(values) - 1:
            return '{"' + body.replace("\0", '","') + '"}'
    out = []
    for v in values:
        if v is None:
            out.append("NULL")
        elif isinstance(v, int | Decimal):
            out.append(str(v))
        else:
            out.append('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(out) + "}"
