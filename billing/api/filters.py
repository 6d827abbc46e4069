"""The billing API's list filters (claims, batches, remittances, denials)."""

from __future__ import annotations

import django_filters

from billing.choices import ClaimStatus
from billing.models import (
    Batch,
    Claim,
    Remittance,
)
from cbo_portal.choices import OrgKind
from cbo_portal.models import Organization


class ClaimFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ClaimStatus.choices)
    month = django_filters.DateFilter(
        field_name="service_month", help_text="First day of the month of service"
    )

    class Meta:
        model = Claim
        fields = ["status", "plan", "submitter", "billing_provider", "batch", "month"]


class BatchFilter(django_filters.FilterSet):
    class Meta:
        model = Batch
        fields = ["status", "plan", "submitter", "format"]


PLANS = Organization.objects.filter(kind=OrgKind.PLAN)


class RemittanceFilter(django_filters.FilterSet):
    plan = django_filters.ModelChoiceFilter(queryset=PLANS)  # an id that names no plan is a 400
    paid_from = django_filters.DateFilter(field_name="payment_date", lookup_expr="gte")
    paid_to = django_filters.DateFilter(field_name="payment_date", lookup_expr="lte")
    has_unmatched = django_filters.BooleanFilter(method="filter_unmatched")

    class Meta:
        model = Remittance
        fields = ["plan", "paid_from", "paid_to", "has_unmatched"]

    def filter_unmatched(self, queryset, name, value):
        return queryset.filter(unmatched_count__gt=0) if value else queryset.filter(unmatched_count=0)


class DenialFilter(django_filters.FilterSet):
    plan = django_filters.ModelChoiceFilter(queryset=PLANS)  # an id that names no plan is a 400
    status = django_filters.CharFilter(field_name="status")
    carc = django_filters.CharFilter(field_name="adjustments__carc", distinct=True)

    class Meta:
        model = Claim
        fields = ["plan", "status", "carc"]
