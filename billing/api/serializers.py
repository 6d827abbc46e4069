"""What the billing API reads and writes: claims, batches, acknowledgements, remittances, denials and
reports."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.models import (
    Acknowledgement,
    Adjustment,
    Batch,
    Claim,
    ClaimLine,
    Payment,
    ProviderAdjustment,
    Remittance,
    RemittanceClaim,
)
from billing.selectors import progress_percent
from billing.services import denials as denial_services
from cbo_portal.models import Organization
from contracts.choices import ClaimFormat


class ClaimLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClaimLine
        fields = [
            "line_number",
            "line_control_number",
            "procedure_code",
            "modifiers",
            "service_date",
            "end_date",
            "units",
            "rate",
            "charge",
            "paid_amount",
            "live",
            "diagnosis_pointers",
        ]


class ProblemSerializer(serializers.Serializer):
    code = serializers.CharField()
    severity = serializers.CharField()
    message = serializers.CharField()
    fix = serializers.CharField()
    line = serializers.IntegerField(allow_null=True)


class ServiceDatesSerializer(serializers.Serializer):
    first = serializers.DateField()
    last = serializers.DateField()


class ClaimSerializer(serializers.ModelSerializer):
    plan_name = serializers.CharField(source="plan.legal_name", read_only=True)
    billing_provider_name = serializers.CharField(source="billing_provider.legal_name", read_only=True)
    member_cin = serializers.CharField(source="member.cin", read_only=True)
    service_dates = serializers.SerializerMethodField()
    problems = ProblemSerializer(many=True, read_only=True)
    lines = ClaimLineSerializer(many=True, read_only=True)

    class Meta:
        model = Claim
        fields = [
            "id",
            "control_number",
            "status",
            "frequency",
            "billed_amount",
            "paid_amount",
            "plan",
            "plan_name",
            "billing_provider",
            "billing_provider_name",
            "submitter",
            "member_cin",
            "service_month",
            "service_dates",
            "authorization",
            "diagnosis_codes",
            "place_of_service",
            "payer_claim_number",
            "replaces",
            "batch",
            "transaction_set_control",
            "problems",
            "lines",
            "submitted_at",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ServiceDatesSerializer)
    def get_service_dates(self, obj: Claim) -> dict:
        return {"first": obj.first_service_date, "last": obj.last_service_date}


class BatchSerializer(serializers.ModelSerializer):
    plan_name = serializers.CharField(source="plan.legal_name", read_only=True)
    submitter_name = serializers.CharField(source="submitter.legal_name", read_only=True)
    progress_percent = serializers.SerializerMethodField()

    class Meta:
        model = Batch
        fields = [
            "id",
            "submitter",
            "submitter_name",
            "plan",
            "plan_name",
            "format",
            "status",
            "claim_count",
            "total_billed",
            "progress_done",
            "progress_total",
            "progress_percent",
            "file_name",
            "sha256",
            "interchange_control",
            "group_control",
            "remote_path",
            "submitted_at",
            "acknowledged_at",
            "error",
            "created_at",
        ]
        read_only_fields = fields

    def get_progress_percent(self, obj: Batch) -> int:
        return progress_percent(obj)


class BatchCreateSerializer(serializers.Serializer):
    plan = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.filter(kind="plan"))
    submitter = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.all())
    claim_format = serializers.ChoiceField(choices=ClaimFormat.choices, default=ClaimFormat.X12_837P)


MAX_UPLOAD = 200 * 1024 * 1024


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The X12 file as the plan sent it")

    def validate_file(self, value):
        if value.size > MAX_UPLOAD:
            raise serializers.ValidationError("The file is larger than 200 MB.")
        return value


class AckResultSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    group_control = serializers.CharField()
    control_number = serializers.CharField()
    status = serializers.CharField()
    accepted = serializers.BooleanField()
    errors = serializers.ListField(child=serializers.CharField())
    claims = serializers.IntegerField()


class AcknowledgementSerializer(serializers.ModelSerializer):
    results = AckResultSerializer(many=True, read_only=True)
    already_imported = serializers.SerializerMethodField()

    class Meta:
        model = Acknowledgement
        fields = [
            "id",
            "batch",
            "file_name",
            "accepted_sets",
            "rejected_sets",
            "results",
            "imported_at",
            "already_imported",
        ]

    def get_already_imported(self, obj: Acknowledgement) -> bool:
        return bool(getattr(obj, "already_imported", False))


class RemitAdjustmentSerializer(serializers.ModelSerializer):
    line_control_number = serializers.CharField(source="claim_line.line_control_number", default=None)

    class Meta:
        model = Adjustment
        fields = ["group", "carc", "rarcs", "amount", "line_control_number"]


class RemitPaymentSerializer(serializers.ModelSerializer):
    line_control_number = serializers.CharField(source="claim_line.line_control_number", default=None)

    class Meta:
        model = Payment
        fields = ["amount", "line_control_number"]


class RemitClaimSerializer(serializers.ModelSerializer):
    claim_status = serializers.CharField(source="claim.status", default=None)
    payments = RemitPaymentSerializer(many=True, read_only=True)
    adjustments = RemitAdjustmentSerializer(many=True, read_only=True)

    class Meta:
        model = RemittanceClaim
        fields = [
            "id",
            "patient_control_number",
            "claim",
            "claim_status",
            "status_code",
            "charge",
            "paid",
            "patient_responsibility",
            "payer_claim_number",
            "resolved_at",
            "resolution_note",
            "payments",
            "adjustments",
        ]


class RemitProviderAdjustmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProviderAdjustment
        fields = ["provider_identifier", "fiscal_period_end", "reason_code", "reference", "amount"]


class RemittanceSerializer(serializers.ModelSerializer):
    plan_name = serializers.CharField(source="plan.legal_name", default=None)
    payee_name = serializers.CharField(source="payee.legal_name", default=None)

    class Meta:
        model = Remittance
        fields = [
            "id",
            "file_name",
            "plan",
            "plan_name",
            "payee",
            "payee_name",
            "payer_name",
            "payer_id",
            "payee_npi",
            "trace_number",
            "payment_method",
            "payment_date",
            "total_paid",
            "claim_count",
            "matched_count",
            "unmatched_count",
            "imported_at",
        ]


class RemittanceDetailSerializer(RemittanceSerializer):
    claims = RemitClaimSerializer(many=True, read_only=True)
    provider_adjustments = RemitProviderAdjustmentSerializer(many=True, read_only=True)

    class Meta(RemittanceSerializer.Meta):
        fields = [*RemittanceSerializer.Meta.fields, "claims", "provider_adjustments"]


class RemitImportSerializer(serializers.Serializer):
    remittance_ids = serializers.ListField(child=serializers.IntegerField())
    file_name = serializers.CharField()
    trace_numbers = serializers.ListField(child=serializers.CharField())
    claims_matched = serializers.IntegerField()
    claims_unmatched = serializers.IntegerField()
    paid_total = serializers.DecimalField(max_digits=14, decimal_places=2)
    adjustment_total = serializers.DecimalField(max_digits=14, decimal_places=2)
    provider_adjustment_total = serializers.DecimalField(max_digits=14, decimal_places=2)
    denied_count = serializers.IntegerField()
    already_imported = serializers.BooleanField()


class DenialReasonSerializer(serializers.Serializer):
    group = serializers.CharField()
    carc = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    description = serializers.CharField()
    advice = serializers.CharField()
    remarks = serializers.ListField(child=serializers.CharField())
    lines = serializers.IntegerField(help_text="How many service lines the plan gave this reason on")


class DenialSerializer(serializers.ModelSerializer):
    plan_name = serializers.CharField(source="plan.legal_name")
    provider_name = serializers.CharField(source="billing_provider.legal_name")
    member_cin = serializers.CharField(source="member.cin")
    status = serializers.CharField(read_only=True, help_text="denied or partially_paid")
    frequency = serializers.CharField(read_only=True, help_text="1 original, 7 replacement, 8 void")
    reasons = serializers.SerializerMethodField()

    class Meta:
        model = Claim
        fields = [
            "id",
            "control_number",
            "status",
            "frequency",
            "payer_claim_number",
            "plan",
            "plan_name",
            "billing_provider",
            "provider_name",
            "member_cin",
            "first_service_date",
            "last_service_date",
            "billed_amount",
            "paid_amount",
            "patient_responsibility",
            "adjudicated_at",
            "reasons",
        ]

    @extend_schema_field(DenialReasonSerializer(many=True))
    def get_reasons(self, obj: Claim) -> list[dict]:
        return [
            {
                "group": r.group,
                "carc": r.carc,
                "amount": r.amount,
                "description": r.description,
                "advice": r.advice,
                "remarks": [f"{code}: {text}" for code, text in r.rarcs],
                "lines": r.lines,
            }
            for r in denial_services.reasons(obj)
        ]


class DenialActionSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)


class DenialResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    control_number = serializers.CharField()
    frequency = serializers.CharField()
    status = serializers.CharField()
    replaces = serializers.IntegerField(allow_null=True)


class AgingRowSerializer(serializers.Serializer):
    plan = serializers.IntegerField(source="plan_id", allow_null=True)
    plan_name = serializers.CharField(source="plan")
    claims = serializers.IntegerField()
    days_0_30 = serializers.DecimalField(max_digits=14, decimal_places=2, source="buckets.0_30")
    days_31_60 = serializers.DecimalField(max_digits=14, decimal_places=2, source="buckets.31_60")
    days_61_90 = serializers.DecimalField(max_digits=14, decimal_places=2, source="buckets.61_90")
    days_90_plus = serializers.DecimalField(max_digits=14, decimal_places=2, source="buckets.90_plus")
    total = serializers.DecimalField(max_digits=14, decimal_places=2)


class MonthRowSerializer(serializers.Serializer):
    month = serializers.DateField()
    billed = serializers.DecimalField(max_digits=14, decimal_places=2)
    paid = serializers.DecimalField(max_digits=14, decimal_places=2)


class DenialReasonRowSerializer(serializers.Serializer):
    carc = serializers.CharField()
    description = serializers.CharField()
    advice = serializers.CharField()
    claims = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    share = serializers.DecimalField(max_digits=5, decimal_places=1, help_text="Percent of decided claims")


class DenialRateSerializer(serializers.Serializer):
    decided = serializers.IntegerField(help_text="Claims the plan decided")
    denied = serializers.IntegerField(help_text="Claims now denied")
    rate = serializers.DecimalField(max_digits=5, decimal_places=1, help_text="Percent denied")
    reasons = DenialReasonRowSerializer(many=True)
