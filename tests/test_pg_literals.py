"""Array literals built in Python (bulk imports and remittances) reach PostgreSQL unchanged."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from cbo_portal.fastpath import array_literal, copy_escape

ODD = ["plain", 'quote"d', "back\\slash", "comma,brace}{", "NULL", "tab\there", "café", "", " spaced "]


@pytest.mark.django_db
@pytest.mark.postgresql
def test_array_literals_round_trip():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::text[], %s::bigint[], %s::numeric[], %s::text[]",
            [
                array_literal(ODD),
                array_literal([1, 22, 333]),
                array_literal([Decimal("1.50"), Decimal("-2")]),
                array_literal(["a", None]),
            ],
        )
        texts, ints, amounts, with_null = cursor.fetchone()
    assert texts == ODD and ints == [1, 22, 333] and amounts == [Decimal("1.50"), Decimal("-2")]
    assert with_null == ["a", None] and array_literal([]) == "{}"


@pytest.mark.django_db
@pytest.mark.postgresql
def test_copy_escaped_text_round_trips():
    odd = [*ODD, "line\nbreak", "carriage\rreturn", "\\N"]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copy_check (n int, t text)")
        with cursor.cursor.copy("COPY copy_check (n, t) FROM STDIN") as copy:
            copy.write("".join(f"{n}\t{copy_escape(t)}\n" for n, t in enumerate(odd)))
        cursor.execute("SELECT t FROM copy_check ORDER BY n")
        assert [t for (t,) in cursor.fetchall()] == odd
