"""API shapes for the catalog, contracts, rate lines, amendments and utilization.

Serializers only check shapes; the services check the rules and write.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cbo_portal.choices import CalAIMService, OrgKind
from cbo_portal.models import County, Organization
from contracts.choices import (
    AuthorizationMode,
    ClaimFormat,
    ConsentKind,
    ContractStatus,
    ServiceCategory,
    Unit,
)
from contracts.models import (
    CAP_FIELDS,
    Contract,
    ContractAmendment,
    ContractStatusChange,
    RateLine,
    RateLineVersion,
    ServiceCatalogEntry,
    UnknownService,
)

MODIFIERS = serializers.ListField(child=serializers.CharField(max_length=2, allow_blank=True), max_length=4)


def resolve_service_field(code: str, modifiers: list[str]) -> ServiceCatalogEntry:
    try:
        return ServiceCatalogEntry.lookup(code, modifiers)
    except UnknownService as error:
        raise serializers.ValidationError({"code": error.messages}) from error


@extend_schema_field(
    {
        "type": "string",
        "description": "The CalAIM service this entry bills for: " + ", ".join(CalAIMService.values),
    }
)
class CalAIMServiceField(serializers.ChoiceField):
    """A CalAIM service value. Documented as a string so the schema keeps one enum name for the
    choice set the portal's ``services_offered`` already publishes."""


class CatalogEntrySerializer(serializers.ModelSerializer):
    modifiers = serializers.ListField(child=serializers.CharField(max_length=2), max_length=4, required=False)
    optional_modifiers = serializers.ListField(child=serializers.CharField(max_length=2), required=False)
    service = CalAIMServiceField(choices=CalAIMService.choices)
    category = serializers.ChoiceField(choices=ServiceCategory.choices)
    unit = serializers.ChoiceField(source="default_unit", choices=Unit.choices)
    authorization = serializers.ChoiceField(
        source="default_authorization",
        choices=AuthorizationMode.choices,
        required=False,
        help_text="Default authorization mode for new rate lines",
    )
    label = serializers.CharField(read_only=True)
    retired = serializers.BooleanField(read_only=True)

    class Meta:
        model = ServiceCatalogEntry
        fields = [
            "id",
            "code",
            "modifiers",
            "optional_modifiers",
            "label",
            "name",
            "service",
            "category",
            "description",
            "unit",
            "authorization",
            "default_units_per_authorization",
            "default_units_per_day",
            "default_units_per_week",
            "default_units_per_month",
            "default_units_per_year",
            "default_lifetime_dollar_cap",
            "effective_from",
            "effective_to",
            "retired",
        ]


class RetireSerializer(serializers.Serializer):
    last_day = serializers.DateField(help_text="The last day the service may be used")


class RateVersionSerializer(serializers.ModelSerializer):
    unit = serializers.ChoiceField(choices=Unit.choices)
    authorization = serializers.ChoiceField(choices=AuthorizationMode.choices)
    authorization_required = serializers.BooleanField(read_only=True)
    amendment_number = serializers.IntegerField(source="amendment.number", read_only=True, default=None)

    class Meta:
        model = RateLineVersion
        fields = [
            "id",
            "effective_from",
            "unit",
            "rate",
            "authorization",
            "authorization_required",
            *CAP_FIELDS,
            "consent_required",
            "amendment",
            "amendment_number",
        ]
        read_only_fields = fields


class ServiceBriefSerializer(serializers.ModelSerializer):
    label = serializers.CharField(read_only=True)
    modifiers = serializers.ListField(child=serializers.CharField(), read_only=True)
    service = CalAIMServiceField(choices=CalAIMService.choices, read_only=True)

    class Meta:
        model = ServiceCatalogEntry
        fields = ["id", "code", "modifiers", "label", "name", "service"]
        read_only_fields = fields


class RateLineSerializer(serializers.ModelSerializer):
    """Read: the service, the terms in force today and every dated version. Write (drafts only):
    the service as ``code`` + ``modifiers`` and the terms; unset terms default from the catalog."""

    service = ServiceBriefSerializer(read_only=True)
    current = serializers.SerializerMethodField()
    versions = RateVersionSerializer(many=True, read_only=True)
    code = serializers.CharField(write_only=True, max_length=5)
    modifiers = serializers.ListField(
        child=serializers.CharField(max_length=2, allow_blank=True),
        max_length=4,
        write_only=True,
        required=False,
    )
    rate = serializers.DecimalField(max_digits=12, decimal_places=4, write_only=True)
    unit = serializers.ChoiceField(choices=Unit.choices, write_only=True, required=False)
    authorization = serializers.ChoiceField(
        choices=AuthorizationMode.choices, write_only=True, required=False
    )
    units_per_authorization = serializers.IntegerField(write_only=True, required=False, allow_null=True)
    units_per_day = serializers.IntegerField(write_only=True, required=False, allow_null=True)
    units_per_week = serializers.IntegerField(write_only=True, required=False, allow_null=True)
    units_per_month = serializers.IntegerField(write_only=True, required=False, allow_null=True)
    units_per_year = serializers.IntegerField(write_only=True, required=False, allow_null=True)
    lifetime_dollar_cap = serializers.DecimalField(
        max_digits=12, decimal_places=2, write_only=True, required=False, allow_null=True
    )
    consent_required = serializers.ChoiceField(
        choices=ConsentKind.choices, write_only=True, required=False, allow_blank=True
    )

    class Meta:
        model = RateLine
        fields = [
            "id",
            "contract",
            "service",
            "current",
            "versions",
            "code",
            "modifiers",
            "rate",
            "unit",
            "authorization",
            *CAP_FIELDS,
            "consent_required",
        ]

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        request = self.context.get("request")
        user = getattr(request, "user", None)
        fields["contract"].queryset = Contract.objects.visible_to(user) if user else Contract.objects.none()
        return fields

    @extend_schema_field(RateVersionSerializer(allow_null=True))
    def get_current(self, obj: RateLine) -> dict[str, Any] | None:
        version = obj.current_version(timezone.localdate())
        return RateVersionSerializer(version).data if version else None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "code" in attrs:
            attrs["service"] = resolve_service_field(attrs.pop("code"), attrs.pop("modifiers", []))
        return attrs


class StatusChangeSerializer(serializers.ModelSerializer):
    from_status = serializers.CharField(
        read_only=True, help_text="Contract status before (empty at creation)"
    )
    to_status = serializers.CharField(read_only=True, help_text="Contract status after")
    actor_email = serializers.CharField(source="actor.email", read_only=True, default=None)

    class Meta:
        model = ContractStatusChange
        fields = ["from_status", "to_status", "actor", "actor_email", "comment", "created_at"]
        read_only_fields = fields


class AmendmentSerializer(serializers.ModelSerializer):
    versions = RateVersionSerializer(many=True, read_only=True)

    class Meta:
        model = ContractAmendment
        fields = ["id", "contract", "number", "effective_from", "reason", "created_at", "versions"]
        read_only_fields = fields


class ContractSerializer(serializers.ModelSerializer):
    plan = serializers.PrimaryKeyRelatedField(
        queryset=Organization.objects.filter(kind=OrgKind.PLAN),
        required=False,
        help_text="Defaults to the plan the caller acts for",
    )
    cbo = serializers.PrimaryKeyRelatedField(
        queryset=Organization.objects.filter(kind__in=[OrgKind.CBO, OrgKind.HUB])
    )
    plan_name = serializers.CharField(source="plan.legal_name", read_only=True)
    cbo_name = serializers.CharField(source="cbo.legal_name", read_only=True)
    counties = serializers.SlugRelatedField(
        many=True, slug_field="name", queryset=County.objects.all(), required=False
    )
    status = serializers.ChoiceField(choices=ContractStatus.choices, read_only=True)
    claim_format = serializers.ChoiceField(choices=ClaimFormat.choices, required=False)
    rate_lines = RateLineSerializer(many=True, read_only=True)
    signed_document_url = serializers.SerializerMethodField()

    class Meta:
        model = Contract
        fields = [
            "id",
            "number",
            "title",
            "plan",
            "plan_name",
            "cbo",
            "cbo_name",
            "start_date",
            "end_date",
            "counties",
            "status",
            "plan_contact_name",
            "plan_contact_email",
            "plan_contact_phone",
            "cbo_contact_name",
            "cbo_contact_email",
            "cbo_contact_phone",
            "payer_id",
            "receiver_id",
            "submitter_id",
            "claim_format",
            "timely_filing_days",
            "payment_terms_days",
            "not_to_exceed",
            "termination_date",
            "termination_reason",
            "activated_at",
            "signed_document_name",
            "signed_document_url",
            "rate_lines",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "termination_date",
            "termination_reason",
            "activated_at",
            "signed_document_name",
            "created_at",
            "updated_at",
        ]
        validators: list = []  # the service checks the number is new for the plan

    @extend_schema_field(OpenApiTypes.URI)
    def get_signed_document_url(self, obj: Contract) -> str | None:
        return reverse("contracts:document", args=[obj.pk]) if obj.signed_document else None


class ContractDetailSerializer(ContractSerializer):
    status_history = StatusChangeSerializer(many=True, read_only=True)
    amendments = AmendmentSerializer(many=True, read_only=True)

    class Meta(ContractSerializer.Meta):
        fields = [*ContractSerializer.Meta.fields, "status_history", "amendments"]


class ActivateSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class TerminateSerializer(serializers.Serializer):
    termination_date = serializers.DateField(help_text="Services on or after this date are not covered")
    reason = serializers.CharField()


class RateChangeSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=5)
    modifiers = serializers.ListField(
        child=serializers.CharField(max_length=2, allow_blank=True),
        max_length=4,
        required=False,
        default=list,
    )
    rate = serializers.DecimalField(max_digits=12, decimal_places=4, required=False)
    unit = serializers.ChoiceField(choices=Unit.choices, required=False)
    authorization = serializers.ChoiceField(choices=AuthorizationMode.choices, required=False)
    units_per_authorization = serializers.IntegerField(required=False, allow_null=True)
    units_per_day = serializers.IntegerField(required=False, allow_null=True)
    units_per_week = serializers.IntegerField(required=False, allow_null=True)
    units_per_month = serializers.IntegerField(required=False, allow_null=True)
    units_per_year = serializers.IntegerField(required=False, allow_null=True)
    lifetime_dollar_cap = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, allow_null=True
    )
    consent_required = serializers.ChoiceField(choices=ConsentKind.choices, required=False, allow_blank=True)


class AmendSerializer(serializers.Serializer):
    effective_from = serializers.DateField()
    reason = serializers.CharField()
    changes = RateChangeSerializer(many=True, help_text="Only the terms given change; a null cap removes it")


class DocumentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The signed contract, as a PDF")


class FiguresSerializer(serializers.Serializer):
    logged_units = serializers.DecimalField(max_digits=14, decimal_places=2)
    logged_amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    billed_units = serializers.DecimalField(max_digits=14, decimal_places=2)
    billed_amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    paid_units = serializers.DecimalField(max_digits=14, decimal_places=2)
    paid_amount = serializers.DecimalField(max_digits=14, decimal_places=2)


class UtilizationRowSerializer(FiguresSerializer):
    service = serializers.CharField(help_text="Code and modifiers, e.g. H0043-U6")
    service_name = serializers.CharField()
    month = serializers.DateField()


class CapUseSerializer(serializers.Serializer):
    service = serializers.CharField(allow_null=True)
    cap = serializers.CharField()
    label = serializers.CharField()
    limit = serializers.DecimalField(max_digits=14, decimal_places=2)
    used = serializers.DecimalField(max_digits=14, decimal_places=2)
    percent = serializers.IntegerField()
    near = serializers.BooleanField(help_text="At 80% or more of the cap")


class UtilizationSerializer(serializers.Serializer):
    contract = serializers.IntegerField()
    near_cap = serializers.BooleanField()
    totals = FiguresSerializer()
    rows = UtilizationRowSerializer(many=True)
    caps = CapUseSerializer(many=True)
