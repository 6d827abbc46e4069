"""Array literals built in Python (bulk imports and remittances) reach PostgreSQL unchanged."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from cbo_portal.pg import array_literal

ODD = ["plain", 'quote"d', "back\\slash", "comma,brace}{", "NULL", "tab\there", "café", "", " spaced "]


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL array literals")
def test_array_literals_round_trip():
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::text[], %s::bigint[], %s::numeric[], %s::text[]", [
            array_literal(ODD), array_literal([1, 22, 333]), array_literal([Decimal("1.50"), Decimal("-2")]),
            array_literal(["a", None]),
        ])  # fmt: skip
        texts, ints, amounts, with_null = cursor.fetchone()
    assert texts == ODD and ints == [1, 22, 333] and amounts == [Decimal("1.50"), Decimal("-2")]
    assert with_null == ["a", None] and array_literal([]) == "{}"
