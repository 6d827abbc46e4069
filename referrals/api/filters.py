"""Query-string filters for the referrals API. The rules they filter on (overdue, billable) live
on the querysets; these only expose them."""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters import rest_framework as filters

from referrals.models import Authorization, Referral, ServiceDelivery


class ReferralFilter(filters.FilterSet):
    overdue = filters.BooleanFilter(method="filter_overdue", label="Awaiting a response past the deadline")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Referral
        fields = ["status", "priority", "plan", "cbo", "member", "source", "plan_reference", "population"]

    def filter_overdue(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        if value is None:
            return queryset
        overdue = Referral.objects.overdue().values("pk")
        return queryset.filter(pk__in=overdue) if value else queryset.exclude(pk__in=overdue)


class AuthorizationFilter(filters.FilterSet):
    ending_before = filters.DateFilter(field_name="end_date", lookup_expr="lte")

    class Meta:
        model = Authorization
        fields = ["status", "referral", "plan", "cbo", "member", "kind"]


class ServiceDeliveryFilter(filters.FilterSet):
    date_from = filters.DateFilter(field_name="service_date", lookup_expr="gte")
    date_to = filters.DateFilter(field_name="service_date", lookup_expr="lte")
    billable = filters.BooleanFilter(method="filter_billable", label="Logged, not voided, not billed")

    class Meta:
        model = ServiceDelivery
        fields = ["status", "referral", "member", "authorization", "service_date", "staff", "cbo", "plan"]

    def filter_billable(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        if value is None:
            return queryset
        billable = ServiceDelivery.objects.billable().values("pk")
        return queryset.filter(pk__in=billable) if value else queryset.exclude(pk__in=billable)
