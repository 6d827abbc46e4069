"""Query-string filters the apps' APIs share."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField

# Real UTC offsets run from −12:00 to +14:00. Python parses any offset under 24 hours, but
# PostgreSQL refuses one past ±15:59 and the whole request would fail.
MAX_UTC_OFFSET = timedelta(hours=14)


class MomentField(IsoDateTimeField):
    """An ISO 8601 date and time whose UTC offset, when given, is one a clock can show."""

    def to_python(self, value: object) -> datetime | None:
        moment = super().to_python(value)
        offset = moment.utcoffset() if moment is not None else None
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise forms.ValidationError(
                "The time zone offset is out of range: use one from -12:00 to +14:00, or Z for UTC.",
                code="invalid",
            )
        return moment


class MomentFilter(filters.IsoDateTimeFilter):
    """``IsoDateTimeFilter`` over ``MomentField``: a bad offset is a 400 naming the parameter."""

    field_class = MomentField
