"""API reads of claims audited like the pages: one VIEW row per request naming the members."""

from __future__ import annotations

from rest_framework.response import Response

from billing.audit import record_claims_view


class MemberViewAuditMixin:
    """For a read-only viewset whose rows show member data: ``list`` audits the page it returns,
    ``retrieve`` the one object. ``audit_where`` names the endpoint in the audit row;
    ``audit_member_field`` is the path from a row to its member's id."""

    audit_where: str = "API"
    audit_member_field: str = "member_id"

    def audit_view(self, rows, where: str) -> None:
        record_claims_view(
            acting_user=self.request.user,  # type: ignore[attr-defined]
            claims=rows,
            where=where,
            member_field=self.audit_member_field,
        )

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())  # type: ignore[attr-defined]
        page = self.paginate_queryset(queryset)  # type: ignore[attr-defined]
        rows = list(page) if page is not None else list(queryset)
        self.audit_view(rows, f"{self.audit_where} list")
        data = self.get_serializer(rows, many=True).data  # type: ignore[attr-defined]
        return self.get_paginated_response(data) if page is not None else Response(data)  # type: ignore[attr-defined]

    def retrieve(self, request, *args, **kwargs):
        obj = self.get_object()  # type: ignore[attr-defined]
        self.audit_view([obj], f"{self.audit_where} {getattr(obj, 'control_number', '') or obj.pk}")
        return Response(self.get_serializer(obj).data)  # type: ignore[attr-defined]
