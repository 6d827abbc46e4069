"""Money: one rounding rule for the whole platform (billing reuses it).

Amounts are ``Decimal`` in US dollars, rounded half up to cents. Never floats.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal | int | str) -> Decimal:
    """``value`` rounded half up to whole cents. Floats are refused: they have already lost cents."""
    if isinstance(value, float):
        raise TypeError("money() takes Decimal, int or str, never float.")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
