"""Claims and batches API: thin viewsets over the services, scoped by ``visible_to``.

``/api/v1/claims/`` (list, detail, ``rescrub``) and ``/api/v1/batches/`` (list, detail, create,
``download``). Filters: claims by status, plan, submitter, batch and month of service; batches by
status and plan.
"""

from __future__ import annotations

import django_filters
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from billing.api.audit import MemberViewAuditMixin
from billing.audit import record_claims_view
from billing.choices import BatchStatus, ClaimStatus
from billing.models import Batch, Claim, ClaimLine
from billing.services import batches as batch_services
from billing.services import claims as claim_services
from cbo_portal.api.base import ScopedViewSetMixin
from cbo_portal.models import Organization
from contracts.choices import ClaimFormat


class ClaimLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClaimLine
        fields = ["line_number", "line_control_number", "procedure_code", "modifiers", "service_date", "end_date",
                  "units", "rate", "charge", "paid_amount", "live", "diagnosis_pointers"]  # fmt: skip


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
            "id", "control_number", "status", "frequency", "billed_amount", "paid_amount", "plan", "plan_name",
            "billing_provider", "billing_provider_name", "submitter", "member_cin", "service_month", "service_dates",
            "authorization", "diagnosis_codes", "place_of_service", "payer_claim_number", "replaces", "batch",
            "transaction_set_control", "problems", "lines", "submitted_at", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(ServiceDatesSerializer)
    def get_service_dates(self, obj: Claim) -> dict:
        return {"first": obj.first_service_date, "last": obj.last_service_date}


class ClaimFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ClaimStatus.choices)
    month = django_filters.DateFilter(
        field_name="service_month", help_text="First day of the month of service"
    )

    class Meta:
        model = Claim
        fields = ["status", "plan", "submitter", "billing_provider", "batch", "month"]


class ClaimViewSet(MemberViewAuditMixin, ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Claims the caller may see: the provider's, its hub's and the submitter's billing people
    see all of theirs; plans see claims once sent to them. Every read is audited (one row per
    request naming the members)."""

    queryset = Claim.objects.for_list().prefetch_related("lines")
    serializer_class = ClaimSerializer
    filterset_class = ClaimFilter
    search_fields = ["control_number", "member__cin", "payer_claim_number"]
    ordering_fields = ["created_at", "service_month", "billed_amount", "status"]
    audit_where = "API claims"

    @extend_schema(request=None, responses=ClaimSerializer)
    @action(detail=True, methods=["post"])
    def rescrub(self, request, pk=None):
        """Re-read the source data, re-price and scrub again (held → ready once fixed)."""
        claim = claim_services.rescrub_claim(self.get_object(), acting_user=request.user)
        self.audit_view([claim], f"{self.audit_where} {claim.control_number or claim.pk} (re-scrubbed)")
        return Response(self.get_serializer(self.get_queryset().get(pk=claim.pk)).data)


class BatchSerializer(serializers.ModelSerializer):
    plan_name = serializers.CharField(source="plan.legal_name", read_only=True)
    submitter_name = serializers.CharField(source="submitter.legal_name", read_only=True)
    progress_percent = serializers.SerializerMethodField()

    class Meta:
        model = Batch
        fields = [
            "id", "submitter", "submitter_name", "plan", "plan_name", "format", "status", "claim_count",
            "total_billed", "progress_done", "progress_total", "progress_percent", "file_name", "sha256",
            "interchange_control", "group_control", "remote_path", "submitted_at", "acknowledged_at", "error",
            "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_progress_percent(self, obj: Batch) -> int:
        return progress_percent(obj)


def progress_percent(batch: Batch) -> int:
    if batch.status != BatchStatus.BUILDING:
        return 100
    return int(100 * batch.progress_done / batch.progress_total) if batch.progress_total else 0


class BatchCreateSerializer(serializers.Serializer):
    plan = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.filter(kind="plan"))
    submitter = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.all())
    claim_format = serializers.ChoiceField(choices=ClaimFormat.choices, default=ClaimFormat.X12_837P)


class BatchFilter(django_filters.FilterSet):
    class Meta:
        model = Batch
        fields = ["status", "plan", "submitter", "format"]


class BatchViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Batches the caller may see. POST makes a batch of the submitter's ready claims for a plan
    (the file is written by a background task: poll ``progress_percent``); ``download`` returns
    the stored file to the submitter's billing coordinator."""

    queryset = Batch.objects.select_related("plan", "submitter")
    serializer_class = BatchSerializer
    filterset_class = BatchFilter
    ordering_fields = ["created_at", "status"]

    @extend_schema(request=BatchCreateSerializer, responses={201: BatchSerializer})
    def create(self, request, *args, **kwargs):
        body = BatchCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        batch = batch_services.create_batch(acting_user=request.user, **body.validated_data)
        return Response(BatchSerializer(batch).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The batch's file (837P or invoice CSV), for the submitter's billing coordinator."""
        batch = self.get_object()
        batch_services.check_can_download(request.user, batch)
        if not batch.file:
            return Response({"error": {"code": "not_ready", "message": "The file is still being written.",
                                       "fields": {}}}, status=status.HTTP_409_CONFLICT)  # fmt: skip
        record_claims_view(acting_user=request.user, claims=Claim.objects.filter(batch=batch),
                           where=f"API downloaded batch {batch.pk} file {batch.file_name}")  # fmt: skip
        return FileResponse(batch.file.open("rb"), as_attachment=True, filename=batch.file_name)


router = DefaultRouter()
router.include_root_view = False
router.register("claims", ClaimViewSet, basename="claim")
router.register("batches", BatchViewSet, basename="batch")

urlpatterns = router.urls
