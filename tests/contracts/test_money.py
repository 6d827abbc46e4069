from __future__ import annotations

from decimal import Decimal

import pytest

from contracts.money import money


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2.345", "2.35"), ("2.344", "2.34"), ("-2.345", "-2.35"), (3, "3.00"), (Decimal("0.005"), "0.01")],
)
def test_money_rounds_half_up_to_cents(value, expected):
    assert money(value) == Decimal(expected)


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        money(0.1)
