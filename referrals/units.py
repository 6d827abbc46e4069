"""Converting time spent into a contract's units of service. Framework-free.

Time-based units follow the standard CMS rounding ("8-minute rule"): a 15-minute unit is billed
for 8 minutes or more, so 8–22 minutes is 1 unit, 23–37 is 2, and so on. Hours are rounded to the
nearest quarter hour, half up. Other units (day, meal, month, service, dollar) are not time-based.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

TIME_UNITS = ("15min", "hour")


class NotTimeBased(ValueError):
    """The unit is not counted in time, so minutes cannot be converted."""


def minutes_to_units(minutes: int, unit: str) -> Decimal:
    """Units for ``minutes`` of work in ``unit``; raises ValueError with a plain message."""
    if minutes is None or minutes <= 0:
        raise ValueError("Enter the minutes spent (more than zero).")
    if unit == "15min":
        units = (int(minutes) + 7) // 15
        if units == 0:
            raise ValueError(
                f"{minutes} minutes is less than 8 minutes, the least that counts as one 15-minute unit."
            )
        return Decimal(units)
    if unit == "hour":
        quarters = (Decimal(minutes) / Decimal(15)).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
        if quarters == 0:
            raise ValueError(f"{minutes} minutes is less than the 8 minutes that count as a quarter hour.")
        return (quarters / 4).quantize(Decimal("0.01"))
    raise NotTimeBased("This service is not counted in time; enter the number of units instead of minutes.")
