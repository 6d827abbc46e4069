"""Pagination that stays cheap on million-row tables.

Django's paginator counts every row the filter matches (``SELECT COUNT(*)``) before it shows a
page: at 1,000,000 referrals a plan's unfiltered list counted 500,000 index entries per request.
``BoundedPaginator`` counts at most ``cap + 1`` rows (``COUNT(*)`` over a ``LIMIT``): up to the cap
the count is exact; past it the list says "more than N" and offers the pages up to the cap. A
reader who needs row 1,001 narrows the filter rather than paging there.

A page past the first is read in two steps (a "deferred join"): the keys of its rows first, which
walks the list's index with no joins, then those rows with their joins. An ``OFFSET`` of 2,450
would otherwise join (member, organizations, service) every one of the rows it skips.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

PAGE_COUNT_CAP = 1_000


def bounded_count(rows: QuerySet, cap: int = PAGE_COUNT_CAP) -> tuple[int, bool]:
    """How many rows match, counting at most ``cap + 1`` of them: ``(count, capped)``, where a
    capped count reads "more than ``cap``". Only the key, no joins and no ORDER BY: the count
    reads an index."""
    n = rows.order_by().values("pk")[: cap + 1].count()
    return min(n, cap), n > cap


def rows_between(rows: QuerySet, start: int, stop: int) -> list:
    """Rows ``start`` to ``stop`` of the ordered ``rows``, read in two steps: their keys (the
    list's index, no joins), then those rows with their joins, in the same order."""
    keys = list(rows.values_list("pk", flat=True)[start:stop])
    return list(rows.filter(pk__in=keys)) if keys else []


class BoundedPaginator(Paginator):
    """A ``Paginator`` whose ``count`` stops at ``cap`` (``capped`` tells whether it stopped)."""

    def __init__(self, object_list, per_page, *args, cap: int = PAGE_COUNT_CAP, **kwargs) -> None:
        super().__init__(object_list, per_page, *args, **kwargs)
        self.cap = cap
        self.capped = False

    @cached_property
    def count(self) -> int:
        if not isinstance(self.object_list, QuerySet):
            n = len(self.object_list)
            self.capped = n > self.cap
            return min(n, self.cap)
        n, self.capped = bounded_count(self.object_list, self.cap)
        return n

    def page(self, number):
        number = self.validate_number(number)
        if number == 1 or not isinstance(self.object_list, QuerySet):
            return super().page(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(rows_between(self.object_list, bottom, top), number, self)
