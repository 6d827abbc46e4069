"""The API's page-number pagination, with a bounded count (see cbo_portal.pagination)."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from cbo_portal.pagination import BoundedPaginator

API_COUNT_CAP = 10_000


class _ApiPaginator(BoundedPaginator):
    def __init__(self, object_list, per_page, *args, **kwargs) -> None:
        super().__init__(object_list, per_page, *args, cap=API_COUNT_CAP, **kwargs)


class StandardPagination(PageNumberPagination):
    """Pages of 50 (``page_size`` up to 500). ``count`` is exact up to 10,000; past that it is
    10,000 with ``count_capped: true``, and the pages reach the first 10,000 rows: narrow the
    filter (``created_before``, ``status``…) to reach older ones."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    django_paginator_class = _ApiPaginator

    def get_paginated_response(self, data) -> Response:
        response = super().get_paginated_response(data)
        response.data["count_capped"] = self.page.paginator.capped
        return response

    def get_paginated_response_schema(self, schema: dict) -> dict:
        out = super().get_paginated_response_schema(schema)
        out["properties"]["count_capped"] = {
            "type": "boolean",
            "description": f"true when more than {API_COUNT_CAP:,} rows match (count then says {API_COUNT_CAP:,})",
        }
        out["required"] = [*out.get("required", []), "count_capped"]
        return out
