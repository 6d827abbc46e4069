"""Pagination that stays cheap on million-row tables.

Django's paginator counts every row the filter matches (``SELECT COUNT(*)``) before it shows a
page: at 1,000,000 referrals a plan's unfiltered list counted 500,000 index entries per request.
``BoundedPaginator`` counts at most ``cap + 1`` rows (``COUNT(*)`` over a ``LIMIT``): up to the cap
the count is exact; past it the list says "more than N" and offers the pages up to the cap. A
reader who needs row 1,001 narrows the filter rather than paging there.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

PAGE_COUNT_CAP = 1_000


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
        else:
            # Only the key, no joins and no ORDER BY: the count reads an index, and at most cap + 1
            # entries of it.
            n = self.object_list.order_by().values("pk")[: self.cap + 1].count()
        self.capped = n > self.cap
        return min(n, self.cap)
