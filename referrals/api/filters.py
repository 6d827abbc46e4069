"""Query-string filters for the referrals API. The rules they filter on (overdue, billable) live
on the querysets; these only expose them."""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters import rest_framework as filters

from cbo_portal.api.filters import MomentFilter
from referrals import selectors
from referrals.models import Authorization, Referral, ServiceDelivery


class ReferralFilter(filters.FilterSet):
    overdue = filters.BooleanFilter(method="filter_overdue", label="Awaiting a response past the deadline")
    created_after = MomentFilter(field_name="created_at", lookup_expr="gte")
    created_before = MomentFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Referral
        fields = ["status", "priority", "plan", "cbo", "member", "source", "plan_reference", "population"]

    search = filters.CharFilter(method="filter_search", label="CIN, last name, plan reference or CBO name")

    def filter_overdue(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        # The rule stays on the queryset; applied directly (not as ``pk IN (every overdue
        # referral)``) so it combines with the scope and the indexes.
        if value is None:
            return queryset
        return queryset.overdue() if value else queryset.exclude(pk__in=queryset.overdue().values("pk"))

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return selectors.search_referrals(queryset, value, partial_cin=True) if value.strip() else queryset


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
