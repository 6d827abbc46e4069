"""Contracts API: thin viewsets over the services, every queryset scoped by ``visible_to``."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from cbo_portal.api.base import ScopedViewSetMixin
from cbo_portal.choices import OrgKind
from contracts import utilization as usage
from contracts.api import filters
from contracts.api import serializers as s
from contracts.models import Contract, ContractAmendment, ContractStatusChange, RateLine, RateLineVersion
from contracts.models import ServiceCatalogEntry as Entry
from contracts.services import catalog as catalog_services
from contracts.services import contracts as contract_services
from contracts.services import rates as rate_services

RATE_LINES = RateLine.objects.select_related("service").prefetch_related(
    Prefetch("versions", RateLineVersion.objects.select_related("amendment"))
)


class CatalogViewSet(
    ScopedViewSetMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """The CalAIM service catalog (HCPCS code + modifiers). Every signed-in user reads it; platform
    admins add, edit and retire entries. Entries are never deleted."""

    queryset = Entry.objects.all()
    serializer_class = s.CatalogEntrySerializer
    filterset_class = filters.CatalogFilter
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name", "category"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def perform_create(self, serializer: s.CatalogEntrySerializer) -> None:
        serializer.instance = catalog_services.create_entry(
            acting_user=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer: s.CatalogEntrySerializer) -> None:
        serializer.instance = catalog_services.update_entry(
            serializer.instance, acting_user=self.request.user, changes=dict(serializer.validated_data)
        )

    @extend_schema(request=s.RetireSerializer, responses=s.CatalogEntrySerializer)
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        obj, data = self.object_and_body(s.RetireSerializer)
        entry = catalog_services.retire_entry(obj, acting_user=request.user, **data)
        return Response(self.get_serializer(entry).data)


class ContractViewSet(
    ScopedViewSetMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Plan–CBO contracts the caller can see. Plan contract managers create and edit drafts,
    activate, amend and terminate; CBOs and hubs read theirs."""

    queryset = Contract.objects.for_list().prefetch_related(Prefetch("rate_lines", RATE_LINES))
    serializer_class = s.ContractSerializer
    filterset_class = filters.ContractFilter
    search_fields = ["number", "title", "cbo__legal_name", "cbo__dba"]
    ordering_fields = ["number", "start_date", "end_date", "status"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_serializer_class(self):
        return s.ContractDetailSerializer if self.action == "retrieve" else s.ContractSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch("status_history", ContractStatusChange.objects.select_related("actor")),
                Prefetch("amendments", ContractAmendment.objects.prefetch_related("versions__amendment")),
            )
        return queryset

    def perform_create(self, serializer: s.ContractSerializer) -> None:
        data = dict(serializer.validated_data)
        plan = data.pop("plan", None)
        if plan is None:
            org = getattr(self.request, "org", None)
            if org is None or org.kind != OrgKind.PLAN:
                raise s.serializers.ValidationError({"plan": "Say which plan the contract is for."})
            plan = org
        serializer.instance = contract_services.create_contract(
            acting_user=self.request.user, plan=plan, **data
        )

    def perform_update(self, serializer: s.ContractSerializer) -> None:
        data = dict(serializer.validated_data)
        counties = data.pop("counties", None)
        for fixed in ("plan", "cbo"):
            if fixed in data and data[fixed] != getattr(serializer.instance, fixed):
                raise s.serializers.ValidationError({fixed: "The parties of a contract cannot change."})
            data.pop(fixed, None)
        serializer.instance = contract_services.update_contract(
            serializer.instance, acting_user=self.request.user, changes=data, counties=counties
        )

    def _fresh(self, contract: Contract):
        return s.ContractDetailSerializer(
            self.get_queryset().get(pk=contract.pk), context=self.get_serializer_context()
        )

    @extend_schema(request=s.ActivateSerializer, responses=s.ContractDetailSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        obj, data = self.object_and_body(s.ActivateSerializer)
        contract = contract_services.activate(obj, acting_user=request.user, **data)
        return Response(self._fresh(contract).data)

    @extend_schema(request=s.TerminateSerializer, responses=s.ContractDetailSerializer)
    @action(detail=True, methods=["post"])
    def terminate(self, request, pk=None):
        obj, data = self.object_and_body(s.TerminateSerializer)
        contract = contract_services.terminate(obj, acting_user=request.user, **data)
        return Response(self._fresh(contract).data)

    @extend_schema(request=s.AmendSerializer, responses={201: s.AmendmentSerializer})
    @action(detail=True, methods=["post"])
    def amend(self, request, pk=None):
        obj, data = self.object_and_body(s.AmendSerializer)
        changes = []
        for item in data["changes"]:
            item = dict(item)
            entry = s.resolve_service_field(item.pop("code"), item.pop("modifiers", []))
            changes.append(rate_services.RateChange(entry, item))
        amendment = rate_services.amend(
            obj,
            acting_user=request.user,
            effective_from=data["effective_from"],
            reason=data["reason"],
            changes=changes,
        )
        return Response(s.AmendmentSerializer(amendment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": s.DocumentUploadSerializer}, responses=s.ContractDetailSerializer
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="signed-document",
        parser_classes=[MultiPartParser, FormParser],
    )
    def signed_document(self, request, pk=None):
        obj, data = self.object_and_body(s.DocumentUploadSerializer)
        contract = contract_services.upload_signed_document(
            obj, acting_user=request.user, upload=data["file"]
        )
        return Response(self._fresh(contract).data)

    @extend_schema(request=None, responses=s.UtilizationSerializer)
    @action(detail=True, methods=["get"])
    def utilization(self, request, pk=None):
        return Response(s.UtilizationSerializer(usage.as_data(usage.utilization(self.get_object()))).data)


class RateLineViewSet(
    ScopedViewSetMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """Rate lines (covered services with dated terms). Lines of a draft are added, edited and
    removed here; an active contract's change only by amendment (POST /contracts/{id}/amend/)."""

    queryset = RATE_LINES.select_related("contract")
    serializer_class = s.RateLineSerializer
    filterset_class = filters.RateLineFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def perform_create(self, serializer: s.RateLineSerializer) -> None:
        data = dict(serializer.validated_data)
        contract = data.pop("contract")
        serializer.instance = rate_services.add_rate_line(contract, acting_user=self.request.user, **data)

    def perform_update(self, serializer: s.RateLineSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("contract", None)
        if "service" in data and data.pop("service") != serializer.instance.service:
            raise s.serializers.ValidationError(
                {"code": "Remove the line and add the other service instead."}
            )
        serializer.instance = rate_services.update_rate_line(
            serializer.instance, acting_user=self.request.user, **data
        )

    def perform_destroy(self, instance: RateLine) -> None:
        rate_services.remove_rate_line(instance, acting_user=self.request.user)


class AmendmentViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Amendments of the contracts the caller can see, with the rate versions each added."""

    queryset = ContractAmendment.objects.select_related("contract").prefetch_related(
        Prefetch("versions", RateLineVersion.objects.select_related("amendment"))
    )
    serializer_class = s.AmendmentSerializer
    filterset_class = filters.AmendmentFilter
