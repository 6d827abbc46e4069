"""The portal's API: organizations and onboarding, team, documents, audit log, API tokens."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cbo_portal import access, two_factor
from cbo_portal.api import serializers as s
from cbo_portal.api.base import ScopedReadOnlyViewSet, ScopedViewSetMixin
from cbo_portal.api.filters import MomentFilter
from cbo_portal.models import ApiToken, AuditEvent, County, Document, Invitation, Membership, Organization
from cbo_portal.services import onboarding, organizations, people


class OrganizationFilter(filters.FilterSet):
    class Meta:
        model = Organization
        fields = ["kind", "onboarding_status", "npi"]


class OrganizationViewSet(ScopedViewSetMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Organizations the caller can see. Admins edit their own profile while the application is
    open; reviewers move applications through onboarding."""

    queryset = Organization.objects.prefetch_related("counties").order_by("legal_name")
    serializer_class = s.OrganizationSerializer
    filterset_class = OrganizationFilter
    search_fields = ["legal_name", "dba", "npi"]
    ordering_fields = ["legal_name", "created_at", "submitted_at"]
    http_method_names = ["get", "patch", "post", "head", "options"]

    def perform_update(self, serializer: s.OrganizationSerializer) -> None:
        data = dict(serializer.validated_data)
        counties = data.pop("counties", None)
        serializer.instance = organizations.update_profile(
            serializer.instance, acting_user=self.request.user, changes=data, counties=counties
        )

    @extend_schema(responses=s.ChecklistItemSerializer(many=True))
    @action(detail=True, methods=["get"])
    def checklist(self, request, pk=None):
        items = onboarding.checklist(self.get_object())
        return Response(s.ChecklistItemSerializer(items, many=True).data)

    @extend_schema(request=None, responses=s.OrganizationSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        org = onboarding.submit(self.get_object(), acting_user=request.user)
        return Response(self.get_serializer(org).data)

    @extend_schema(request=None, responses=s.OrganizationSerializer)
    @action(detail=True, methods=["post"], url_path="start-review")
    def start_review(self, request, pk=None):
        org = onboarding.start_review(self.get_object(), acting_user=request.user)
        return Response(self.get_serializer(org).data)

    @extend_schema(request=s.DecisionSerializer, responses=s.OrganizationSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        org, data = self.object_and_body(s.DecisionSerializer)
        org = onboarding.decide(org, acting_user=request.user, **data)
        return Response(self.get_serializer(org).data)


class CountyViewSet(viewsets.ReadOnlyModelViewSet):
    """California's 58 counties (reference data)."""

    queryset = County.objects.all()
    serializer_class = s.CountySerializer
    pagination_class = None


class MembershipViewSet(ScopedViewSetMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """People in the caller's organizations; admins change roles or deactivate."""

    queryset = Membership.objects.select_related("user", "organization")
    serializer_class = s.MembershipSerializer
    filterset_fields = ["organization", "role", "is_active"]
    http_method_names = ["get", "patch", "head", "options"]

    def perform_update(self, serializer: s.MembershipSerializer) -> None:
        serializer.instance = people.change_membership(
            serializer.instance, acting_user=self.request.user, **serializer.validated_data
        )


class InvitationViewSet(
    ScopedViewSetMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Invitations to the caller's active organization. DELETE withdraws one."""

    queryset = Invitation.objects.select_related("organization")
    serializer_class = s.InvitationSerializer
    filterset_fields = ["organization"]

    def perform_create(self, serializer: s.InvitationSerializer) -> None:
        org = self.request.org
        if org is None:
            raise serializers.ValidationError("You do not belong to an organization.")
        serializer.instance, _link = people.invite(
            org, acting_user=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance: Invitation) -> None:
        people.revoke_invitation(instance, acting_user=self.request.user)


class DocumentViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Onboarding documents (PDF, PNG, JPEG). Upload as multipart with ``kind`` and ``file``."""

    queryset = Document.objects.select_related("organization")
    serializer_class = s.DocumentSerializer
    parser_classes = [MultiPartParser, FormParser]
    filterset_fields = ["organization", "kind", "superseded"]

    def perform_create(self, serializer: s.DocumentSerializer) -> None:
        org = self.request.org
        if org is None:
            raise serializers.ValidationError("You do not belong to an organization.")
        serializer.instance = onboarding.upload_document(
            org,
            acting_user=self.request.user,
            kind=serializer.validated_data["kind"],
            upload=serializer.validated_data["file"],
        )


class AuditEventFilter(filters.FilterSet):
    since = MomentFilter(field_name="created_at", lookup_expr="gte")
    until = MomentFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["organization", "action", "object_type", "object_id", "actor"]


class AuditEventViewSet(ScopedReadOnlyViewSet):
    """The audit log: org admins see their organization's entries, platform admins all. Read-only."""

    queryset = AuditEvent.objects.select_related("actor")
    serializer_class = s.AuditEventSerializer
    filterset_class = AuditEventFilter
    search_fields = ["summary"]


class ApiTokenViewSet(
    ScopedViewSetMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet
):
    """The caller's personal API tokens. The key is in the create response only; DELETE revokes."""

    queryset = ApiToken.objects.select_related("organization")
    serializer_class = s.ApiTokenSerializer

    def create(self, request, *args, **kwargs):
        refusal = two_factor.token_creation_refusal(
            request._request, token_authenticated=isinstance(request.auth, ApiToken)
        )
        if refusal:
            raise PermissionDenied(refusal)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, raw = people.create_api_token(acting_user=request.user, **serializer.validated_data)
        data = self.get_serializer(token).data
        data["key"] = raw
        return Response(data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiToken) -> None:
        people.revoke_api_token(instance, acting_user=self.request.user)


class MeView(APIView):
    """The signed-in user and their memberships."""

    @extend_schema(responses=s.MembershipSerializer(many=True))
    def get(self, request):
        user = get_user_model().objects.get(pk=request.user.pk)
        mships = s.MembershipSerializer(access.memberships(request.user), many=True).data
        return Response(
            {
                **s.UserSerializer(user).data,
                "memberships": mships,
                "is_platform_admin": access.is_platform_admin(request.user),
            }
        )
