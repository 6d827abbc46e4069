"""The billing API: thin viewsets over the services, scoped by ``visible_to``.

``/api/v1/claims/`` (list, detail, ``rescrub``) and ``/api/v1/batches/`` (list, detail, create,
``download``); ``/api/v1/acknowledgements/`` and ``/api/v1/remittances/`` (list, detail, upload:
POST multipart ``file``); ``/api/v1/denials/``, the denials queue, with ``correct`` and ``void``;
``/api/v1/reports/aging/``, ``/reports/billed-vs-paid/``, ``/reports/denial-rate/``. Writes go
through the services; their errors map to 400/403/409 in one place (``cbo_portal/api/exceptions.py``).
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors
from billing.api.audit import MemberViewAuditMixin
from billing.api.filters import BatchFilter, ClaimFilter, DenialFilter, RemittanceFilter
from billing.api.serializers import (
    AcknowledgementSerializer,
    AgingRowSerializer,
    BatchCreateSerializer,
    BatchSerializer,
    ClaimSerializer,
    DenialActionSerializer,
    DenialRateSerializer,
    DenialResultSerializer,
    DenialSerializer,
    MonthRowSerializer,
    RemitImportSerializer,
    RemittanceDetailSerializer,
    RemittanceSerializer,
    UploadSerializer,
)
from billing.audit import record_claims_view
from billing.models import (
    Acknowledgement,
    Adjustment,
    Batch,
    Claim,
    Payment,
    Remittance,
    RemittanceClaim,
)
from billing.services import acks as ack_services
from billing.services import batches as batch_services
from billing.services import claims as claim_services
from billing.services import denials as denial_services
from billing.services import remittances as remit_services
from cbo_portal.api.base import ScopedViewSetMixin


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
            return Response(
                {"error": {"code": "not_ready", "message": "The file is still being written.", "fields": {}}},
                status=status.HTTP_409_CONFLICT,
            )
        record_claims_view(
            acting_user=request.user,
            claims=Claim.objects.filter(batch=batch),
            where=f"API downloaded batch {batch.pk} file {batch.file_name}",
        )
        return FileResponse(batch.file.open("rb"), as_attachment=True, filename=batch.file_name)


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
        record_claims_view(
            acting_user=request.user,
            claims=list(remittance.claims.all()),
            member_field="claim__member_id",
            where=f"API remittance {remittance.trace_number}",
        )
        return Response(self.get_serializer(remittance).data)

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch(
                    "claims",
                    RemittanceClaim.objects.select_related("claim").prefetch_related(
                        Prefetch("payments", Payment.objects.select_related("claim_line")),
                        Prefetch("adjustments", Adjustment.objects.select_related("claim_line")),
                    ),
                ),
                "provider_adjustments",
            )
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
        data = {
            "id": claim.pk,
            "control_number": claim.control_number,
            "frequency": claim.frequency,
            "status": claim.status,
            "replaces": claim.replaces_id,
        }
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


class AgingReportView(APIView):
    """A/R aging by plan: unpaid balance (billed − paid − patient share) of claims awaiting money
    or action, by days since submission. The last row totals all plans."""

    @extend_schema(responses=AgingRowSerializer(many=True))
    def get(self, request):
        return Response(AgingRowSerializer(selectors.aging(request.user), many=True).data)


class BilledVsPaidReportView(APIView):
    """Billed (by month submitted) and paid (by 835 payment date) for the last 12 months."""

    @extend_schema(responses=MonthRowSerializer(many=True))
    def get(self, request):
        return Response(MonthRowSerializer(selectors.billed_vs_paid(request.user), many=True).data)


class DenialRateReportView(APIView):
    """Share of decided claims now denied, and every denial or cut reason (CARC) in words."""

    @extend_schema(responses=DenialRateSerializer)
    def get(self, request):
        return Response(DenialRateSerializer(selectors.denial_rate(request.user)).data)
