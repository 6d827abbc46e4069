"""Acknowledgements, remittances, denials and billing reports API, scoped by ``visible_to``.

``/api/v1/acknowledgements/`` and ``/api/v1/remittances/``: list, detail, upload (POST multipart
``file``). ``/api/v1/denials/``: the denials queue (list, detail) with ``correct`` and ``void``
actions. ``/api/v1/reports/aging/``, ``/reports/billed-vs-paid/``, ``/reports/denial-rate/``.
Writes go through the services; their errors map to 400/403/409 in one place (exceptions.py).
"""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from billing.api.audit import MemberViewAuditMixin
from billing.audit import record_claims_view
from billing.models import (
    Acknowledgement,
    Adjustment,
    Claim,
    Payment,
    ProviderAdjustment,
    Remittance,
    RemittanceClaim,
)
from billing.services import acks as ack_services
from billing.services import denials as denial_services
from billing.services import remittances as remit_services
from billing.services import reports
from cbo_portal.api.base import ScopedViewSetMixin
from cbo_portal.choices import OrgKind
from cbo_portal.models import Organization

MAX_UPLOAD = 200 * 1024 * 1024


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The X12 file as the plan sent it")

    def validate_file(self, value):
        if value.size > MAX_UPLOAD:
            raise serializers.ValidationError("The file is larger than 200 MB.")
        return value


# --------------------------------------------------------------------------- 999


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
        fields = ["id", "batch", "file_name", "accepted_sets", "rejected_sets", "results", "imported_at",
                  "already_imported"]  # fmt: skip

    def get_already_imported(self, obj: Acknowledgement) -> bool:
        return bool(getattr(obj, "already_imported", False))


class AcknowledgementViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """999 acknowledgements of batches the caller can see. POST a 999 file (multipart ``file``) to
    import it: accepted transaction sets accept their claims, rejected ones reject them."""

    queryset = Acknowledgement.objects.select_related("batch")
    serializer_class = AcknowledgementSerializer
    parser_classes = [MultiPartParser, FormParser]
    ordering_fields = ["imported_at"]

    @extend_schema(
        request={"multipart/form-data": UploadSerializer}, responses={201: AcknowledgementSerializer}
    )
    def create(self, request, *args, **kwargs):
        body = UploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        ack = ack_services.import_ack(upload.read(), file_name=upload.name, acting_user=request.user)
        code = status.HTTP_200_OK if ack.already_imported else status.HTTP_201_CREATED
        return Response(AcknowledgementSerializer(ack).data, status=code)


# --------------------------------------------------------------------------- 835


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
        fields = ["id", "patient_control_number", "claim", "claim_status", "status_code", "charge", "paid",
                  "patient_responsibility", "payer_claim_number", "resolved_at", "resolution_note", "payments",
                  "adjustments"]  # fmt: skip


class RemitProviderAdjustmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProviderAdjustment
        fields = ["provider_identifier", "fiscal_period_end", "reason_code", "reference", "amount"]


class RemittanceSerializer(serializers.ModelSerializer):
    plan_name = serializers.CharField(source="plan.legal_name", default=None)
    payee_name = serializers.CharField(source="payee.legal_name", default=None)

    class Meta:
        model = Remittance
        fields = ["id", "file_name", "plan", "plan_name", "payee", "payee_name", "payer_name", "payer_id", "payee_npi",
                  "trace_number", "payment_method", "payment_date", "total_paid", "claim_count", "matched_count",
                  "unmatched_count", "imported_at"]  # fmt: skip


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


class RemittanceViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """835 remittances paying the caller (or paid by the caller's plan, read-only). The detail
    lists every claim payment with its payments and adjustments, and the PLB adjustments. POST an
    835 (multipart ``file``) to import it; the answer summarizes what was posted."""

    queryset = Remittance.objects.select_related("plan", "payee")
    serializer_class = RemittanceSerializer
    parser_classes = [MultiPartParser, FormParser]
    filterset_class = RemittanceFilter
    search_fields = ["trace_number", "file_name", "payer_name"]
    ordering_fields = ["imported_at", "payment_date", "total_paid"]

    def get_serializer_class(self):
        return RemittanceDetailSerializer if self.action == "retrieve" else RemittanceSerializer

    def retrieve(self, request, *args, **kwargs):
        """The detail shows each matched claim payment's claim: audited, naming their members."""
        remittance = self.get_object()
        record_claims_view(acting_user=request.user, claims=list(remittance.claims.all()),
                           member_field="claim__member_id", where=f"API remittance {remittance.trace_number}")  # fmt: skip
        return Response(self.get_serializer(remittance).data)

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch("claims", RemittanceClaim.objects.select_related("claim").prefetch_related(
                    Prefetch("payments", Payment.objects.select_related("claim_line")),
                    Prefetch("adjustments", Adjustment.objects.select_related("claim_line")),
                )),
                "provider_adjustments",
            )  # fmt: skip
        return queryset

    @extend_schema(request={"multipart/form-data": UploadSerializer}, responses={201: RemitImportSerializer})
    def create(self, request, *args, **kwargs):
        body = UploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        result = remit_services.import_remittance(
            upload.read(), file_name=upload.name, acting_user=request.user
        )
        code = status.HTTP_200_OK if result.already_imported else status.HTTP_201_CREATED
        return Response(RemitImportSerializer(result.as_dict()).data, status=code)


# --------------------------------------------------------------------------- denials


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
        fields = ["id", "control_number", "status", "frequency", "payer_claim_number", "plan", "plan_name",
                  "billing_provider", "provider_name", "member_cin", "first_service_date", "last_service_date",
                  "billed_amount", "paid_amount", "patient_responsibility", "adjudicated_at", "reasons"]  # fmt: skip

    @extend_schema_field(DenialReasonSerializer(many=True))
    def get_reasons(self, obj: Claim) -> list[dict]:
        return [
            {"group": r.group, "carc": r.carc, "amount": r.amount, "description": r.description, "advice": r.advice,
             "remarks": [f"{code}: {text}" for code, text in r.rarcs], "lines": r.lines}
            for r in denial_services.reasons(obj)
        ]  # fmt: skip


class DenialActionSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)


class DenialResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    control_number = serializers.CharField()
    frequency = serializers.CharField()
    status = serializers.CharField()
    replaces = serializers.IntegerField(allow_null=True)


class DenialFilter(django_filters.FilterSet):
    plan = django_filters.ModelChoiceFilter(queryset=PLANS)  # an id that names no plan is a 400
    status = django_filters.CharFilter(field_name="status")
    carc = django_filters.CharFilter(field_name="adjustments__carc", distinct=True)

    class Meta:
        model = Claim
        fields = ["plan", "status", "carc"]


class DenialViewSet(MemberViewAuditMixin, ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """The denials work queue: denied and short-paid claims with the plan's reasons in words and
    what to do. ``correct`` makes a frequency-7 replacement (with the plan's claim number) and
    ``void`` a frequency-8 claim; only the provider's billing staff may."""

    queryset = Claim.objects.all()
    serializer_class = DenialSerializer
    filterset_class = DenialFilter
    search_fields = ["control_number", "payer_claim_number", "member__cin"]
    ordering_fields = ["adjudicated_at", "billed_amount"]
    audit_where = "API denials"

    def get_queryset(self):
        return denial_services.queue(self.request.user)

    def _fix(self, request, fn):
        body = DenialActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        claim = fn(self.get_object(), acting_user=request.user, reason=body.validated_data.get("reason", ""))
        data = {"id": claim.pk, "control_number": claim.control_number, "frequency": claim.frequency,
                "status": claim.status, "replaces": claim.replaces_id}  # fmt: skip
        return Response(DenialResultSerializer(data).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DenialActionSerializer, responses={201: DenialResultSerializer})
    @action(detail=True, methods=["post"])
    def correct(self, request, pk=None):
        """Correct and resubmit: returns the replacement claim."""
        return self._fix(request, denial_services.correct)

    @extend_schema(request=DenialActionSerializer, responses={201: DenialResultSerializer})
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        """Void the claim: returns the frequency-8 claim (or the withdrawn claim)."""
        return self._fix(request, denial_services.void)


# --------------------------------------------------------------------------- reports


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


class AgingReportView(APIView):
    """A/R aging by plan: unpaid balance (billed − paid − patient share) of claims awaiting money
    or action, by days since submission. The last row totals all plans."""

    @extend_schema(responses=AgingRowSerializer(many=True))
    def get(self, request):
        return Response(AgingRowSerializer(reports.aging(request.user), many=True).data)


class BilledVsPaidReportView(APIView):
    """Billed (by month submitted) and paid (by 835 payment date) for the last 12 months."""

    @extend_schema(responses=MonthRowSerializer(many=True))
    def get(self, request):
        return Response(MonthRowSerializer(reports.billed_vs_paid(request.user), many=True).data)


class DenialRateReportView(APIView):
    """Share of decided claims now denied, and every denial or cut reason (CARC) in words."""

    @extend_schema(responses=DenialRateSerializer)
    def get(self, request):
        return Response(DenialRateSerializer(reports.denial_rate(request.user)).data)


router = DefaultRouter()
router.include_root_view = False
router.register("acknowledgements", AcknowledgementViewSet, basename="acknowledgement")
router.register("remittances", RemittanceViewSet, basename="remittance")
router.register("denials", DenialViewSet, basename="denial")

from django.urls import path  # noqa: E402

urlpatterns = [
    *router.urls,
    path("reports/aging/", AgingReportView.as_view(), name="report-aging"),
    path("reports/billed-vs-paid/", BilledVsPaidReportView.as_view(), name="report-billed-vs-paid"),
    path("reports/denial-rate/", DenialRateReportView.as_view(), name="report-denial-rate"),
]
