from __future__ import annotations

from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters

from contracts.choices import ContractStatus, ServiceCategory
from contracts.models import Contract, ContractAmendment, RateLine, ServiceCatalogEntry


class CatalogFilter(filters.FilterSet):
    code = filters.CharFilter(field_name="code", lookup_expr="iexact")
    # A plain string (documented in the catalog entry's ``service``) keeps one schema enum for CalAIMService.
    service = filters.CharFilter(field_name="service", lookup_expr="exact", label="CalAIM service value")
    category = filters.ChoiceFilter(choices=ServiceCategory.choices)
    in_effect_on = filters.DateFilter(method="filter_in_effect", label="In use on this date")

    class Meta:
        model = ServiceCatalogEntry
        fields = ["code", "service", "category"]

    def filter_in_effect(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.in_effect(value)


class ContractFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=ContractStatus.choices)
    county = filters.CharFilter(field_name="counties__name", lookup_expr="iexact", distinct=True)
    in_force_on = filters.DateFilter(method="filter_in_force", label="Covering this date")
    service = filters.CharFilter(method="filter_service", label="Covers this HCPCS code")

    class Meta:
        model = Contract
        fields = ["status", "plan", "cbo", "county"]

    def filter_in_force(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(start_date__lte=value).filter(
            (Q(end_date__isnull=True) | Q(end_date__gte=value))
            & (Q(termination_date__isnull=True) | Q(termination_date__gt=value))
        )

    def filter_service(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(rate_lines__service__code__iexact=value.strip()).distinct()


class RateLineFilter(filters.FilterSet):
    class Meta:
        model = RateLine
        fields = ["contract", "service"]


class AmendmentFilter(filters.FilterSet):
    class Meta:
        model = ContractAmendment
        fields = ["contract"]
