"""Referrals API: thin viewsets over the services, every queryset scoped by ``visible_to``.

Detail actions find the object in scope first (404 otherwise), then validate the body, then call
the service; the portal's exception handler maps the services' errors to 400/403/409.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cbo_portal.api.base import ScopedViewSetMixin
from cbo_portal.api.parsers import FormParser, JSONParser, MultiPartParser  # with the bad-input limits
from cbo_portal.choices import OrgKind
from cbo_portal.models import Organization
from referrals import selectors
from referrals.api import filters
from referrals.api import serializers as s
from referrals.choices import ReferralSource
from referrals.models import (
    Authorization,
    Enrollment,
    Member,
    MemberCorrection,
    OutreachAttempt,
    Referral,
    ReferralImport,
    ReferralStatusChange,
    RosterImport,
    ServiceDelivery,
)
from referrals.services import authorizations as auth_svc
from referrals.services import consents as consent_svc
from referrals.services import deliveries as delivery_svc
from referrals.services import imports as import_svc
from referrals.services import members as member_svc
from referrals.services import referrals as ref_svc
from referrals.services import rosters as roster_svc


def _org(request, pk: int | None, kind: tuple[str, ...], field: str) -> Organization:
    """The organization named in the body, or the caller's active one when it is of ``kind``."""
    if pk is not None:
        org = Organization.objects.filter(pk=pk, kind__in=kind).first()
        if org is None:
            raise s.serializers.ValidationError({field: "No such organization."})
        return org
    org = getattr(request, "org", None)
    if org is None or org.kind not in kind:
        raise s.serializers.ValidationError({field: "Say which organization this is for."})
    return org


class MemberViewSet(ScopedViewSetMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Members the caller may see: a plan its enrollees and members it referred, a CBO only members
    referred to it. Every read of personal data is audited."""

    queryset = Member.objects.select_related("county")
    serializer_class = s.MemberSerializer
    search_fields = ["cin", "last_name", "first_name"]
    ordering_fields = ["last_name", "cin"]
    http_method_names = ["get", "patch", "post", "head", "options"]

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        rows = response.data["results"] if isinstance(response.data, dict) else response.data
        member_svc.record_view(
            acting_user=request.user, members=[r["id"] for r in rows], where="API member list"
        )
        return response

    @extend_schema(responses=s.MemberDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        """The member with ``eligibility`` (today's status from their coverage: active, inactive or
        unknown, the plan, the last covered day known, when and where from) and ``enrollments``."""
        member = self.get_object()
        member_svc.record_view(acting_user=request.user, members=[member], where="API member record")
        return Response(s.MemberDetailSerializer(member).data)

    @extend_schema(request=s.MemberChangeSerializer, responses=s.MemberDetailSerializer)
    def partial_update(self, request, *args, **kwargs):
        """The member's plan changes the record (audited per member); anyone else is refused."""
        member, data = self.object_and_body(s.MemberChangeSerializer)
        plan = member_svc.editing_plan(request.user, member)
        if plan is None:
            raise PermissionDenied(
                "Only the member's plan may change their record; propose a correction instead."
            )
        member = member_svc.update_member(member, acting_user=request.user, plan=plan, **data)
        return Response(s.MemberDetailSerializer(member).data)

    @extend_schema(methods=["GET"], request=None, responses=s.ConsentSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": s.ConsentInputSerializer},
        responses={201: s.ConsentSerializer},
    )
    @action(detail=True, methods=["get", "post"], parser_classes=[JSONParser, FormParser, MultiPartParser])
    def consents(self, request, pk=None):
        """The member's consents, newest first; an organization serving the member records one
        (given, refused or revoked, as of a day, how, optionally the signed form)."""
        if request.method == "GET":
            member = self.get_object()
            return Response(
                s.ConsentSerializer(
                    member.consents.select_related("organization", "recorded_by").order_by(
                        "-on", "-created_at"
                    ),
                    many=True,
                ).data
            )
        member, data = self.object_and_body(s.ConsentInputSerializer)
        org = consent_svc.recording_organization(request.user, member, getattr(request, "org", None))
        consent = consent_svc.record_consent(member, acting_user=request.user, organization=org, **data)
        return Response(s.ConsentSerializer(consent).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.CorrectionProposalSerializer, responses={201: s.MemberCorrectionSerializer})
    @action(detail=True, methods=["post"])
    def corrections(self, request, pk=None):
        """A CBO serving the member proposes a correction for the member's plan to decide."""
        member, data = self.object_and_body(s.CorrectionProposalSerializer)
        org = member_svc.proposing_provider(request.user, member, getattr(request, "org", None))
        if org is None:
            raise PermissionDenied("Only a CBO that serves this member may propose corrections.")
        correction = member_svc.propose_correction(member, acting_user=request.user, organization=org, **data)
        return Response(s.MemberCorrectionSerializer(correction).data, status=status.HTTP_201_CREATED)


class EnrollmentViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Members' coverage periods, seen by whoever may see the member; recorded, changed and ended
    only by the member's plan (its admins, care coordinators and contract managers)."""

    queryset = Enrollment.objects.select_related("plan", "recorded_by").order_by(
        "member_id", "-start_date", "-pk"
    )
    serializer_class = s.EnrollmentSerializer
    filterset_fields = ["member", "plan", "source"]

    @extend_schema(request=s.EnrollmentInputSerializer, responses={201: s.EnrollmentSerializer})
    def create(self, request, *args, **kwargs):
        """Record a period of coverage for a member the caller's plan may see."""
        body = s.EnrollmentInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        member = Member.objects.visible_to(request.user).filter(pk=data.pop("member")).first()
        if member is None:
            raise ValidationError({"member": "No member with this id that you may see."})
        plan = member_svc.coverage_plan(request.user, data.pop("plan", None))
        enrollment = member_svc.record_enrollment(member, acting_user=request.user, plan=plan, **data)
        return Response(s.EnrollmentSerializer(enrollment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.EnrollmentChangeSerializer, responses=s.EnrollmentSerializer)
    def partial_update(self, request, *args, **kwargs):
        """The plan changes the period's dates, aid code or program."""
        enrollment, data = self.object_and_body(s.EnrollmentChangeSerializer)
        enrollment = member_svc.change_enrollment(enrollment, acting_user=request.user, **data)
        return Response(s.EnrollmentSerializer(enrollment).data)

    @extend_schema(request=s.EnrollmentEndSerializer, responses=s.EnrollmentSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        """The plan ends the period: ``end_date`` is the last day covered."""
        enrollment, data = self.object_and_body(s.EnrollmentEndSerializer)
        enrollment = member_svc.end_enrollment(enrollment, acting_user=request.user, **data)
        return Response(s.EnrollmentSerializer(enrollment).data)


class MemberCorrectionViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Corrections proposed for members the caller may see; the member's plan accepts or rejects."""

    queryset = MemberCorrection.objects.select_related("member", "organization")
    serializer_class = s.MemberCorrectionSerializer
    filterset_fields = ["status", "member"]
    search_fields = None

    def _decide(self, accept: bool) -> Response:
        correction, data = self.object_and_body(s.CorrectionDecisionSerializer)
        correction = member_svc.decide_correction(
            correction, acting_user=self.request.user, accept=accept, **data
        )
        return Response(s.MemberCorrectionSerializer(correction).data)

    @extend_schema(request=s.CorrectionDecisionSerializer, responses=s.MemberCorrectionSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._decide(True)

    @extend_schema(request=s.CorrectionDecisionSerializer, responses=s.MemberCorrectionSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(False)


class ReferralViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Closed-loop referrals. Plan care coordinators create them; the CBO accepts or declines,
    logs outreach, asks for authorizations and closes the loop; the plan authorizes."""

    queryset = Referral.objects.for_list().select_related("member__county")
    serializer_class = s.ReferralSerializer
    filterset_class = filters.ReferralFilter  # its ``search`` replaces SearchFilter's joined ILIKEs
    ordering_fields = ["created_at", "respond_by", "status"]
    http_method_names = ["get", "post", "head", "options"]

    def get_serializer_class(self):
        return s.ReferralDetailSerializer if self.action == "retrieve" else s.ReferralSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch("history", ReferralStatusChange.objects.select_related("actor"))
            )
        return queryset

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        rows = response.data["results"] if isinstance(response.data, dict) else response.data
        member_svc.record_view(
            acting_user=request.user, members=[r["member"]["id"] for r in rows], where="API referral list"
        )
        return response

    def retrieve(self, request, *args, **kwargs):
        referral = self.get_object()
        member_svc.record_view(
            acting_user=request.user, members=[referral.member_id], where=f"API referral {referral.number}"
        )
        return Response(self.get_serializer(referral).data)

    def _out(self, referral: Referral, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().prefetch_related("history__actor").get(pk=referral.pk)
        return Response(s.ReferralDetailSerializer(fresh).data, status=code)

    @extend_schema(request=s.ReferralCreateSerializer, responses={201: s.ReferralDetailSerializer})
    def create(self, request, *args, **kwargs):
        body = s.ReferralCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        member_data, service, source = dict(data.pop("member")), data.pop("service"), data.pop("source")
        cbo_id, plan_id = data.pop("cbo", None), data.pop("plan", None)
        plan = _org(request, plan_id, (OrgKind.PLAN,), "plan")
        cbo = _org(request, cbo_id, (OrgKind.CBO, OrgKind.HUB), "cbo")
        if source == ReferralSource.PLAN:
            referral = ref_svc.create_referral(
                acting_user=request.user,
                plan=plan,
                cbo=cbo,
                member_details=member_data,
                service=service,
                **data,
            )
        else:
            referral = ref_svc.record_community_referral(
                acting_user=request.user,
                plan=plan,
                cbo=cbo,
                member_details=member_data,
                service=service,
                source=source,
                **data,
            )
        return self._out(referral, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.ReferralDetailSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        obj, _ = self.object_and_body(s.EmptySerializer)
        return self._out(ref_svc.accept(obj, acting_user=request.user))

    @extend_schema(request=s.DeclineSerializer, responses=s.ReferralDetailSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        obj, data = self.object_and_body(s.DeclineSerializer)
        return self._out(ref_svc.decline(obj, acting_user=request.user, **data))

    @extend_schema(request=None, responses=s.ReferralDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """The plan approves a CBO's self/community referral."""
        obj, _ = self.object_and_body(s.EmptySerializer)
        return self._out(ref_svc.approve_community_referral(obj, acting_user=request.user))

    @extend_schema(request=s.CompleteSerializer, responses=s.ReferralDetailSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        obj, data = self.object_and_body(s.CompleteSerializer)
        return self._out(ref_svc.complete(obj, acting_user=request.user, **data))

    @extend_schema(request=s.CloseSerializer, responses=s.ReferralDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        obj, data = self.object_and_body(s.CloseSerializer)
        return self._out(ref_svc.close(obj, acting_user=request.user, **data))

    @extend_schema(request=s.OutreachInputSerializer, responses={201: s.OutreachAttemptSerializer})
    @action(detail=True, methods=["post"])
    def outreach(self, request, pk=None):
        obj, data = self.object_and_body(s.OutreachInputSerializer)
        attempt = ref_svc.record_outreach(obj, acting_user=request.user, **data)
        return Response(s.OutreachAttemptSerializer(attempt).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.AuthorizeSerializer, responses={201: s.AuthorizationSerializer})
    @action(detail=True, methods=["post"])
    def authorize(self, request, pk=None):
        obj, data = self.object_and_body(s.AuthorizeSerializer)
        auth = auth_svc.authorize(obj, acting_user=request.user, **data)
        return Response(s.AuthorizationSerializer(auth).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.RequestAuthorizationSerializer, responses={201: s.AuthorizationSerializer})
    @action(detail=True, methods=["post"], url_path="request-authorization")
    def request_authorization(self, request, pk=None):
        obj, data = self.object_and_body(s.RequestAuthorizationSerializer)
        extends_id = data.pop("extends", None)
        extends = None
        if extends_id is not None:
            extends = Authorization.objects.visible_to(request.user).filter(pk=extends_id).first()
            if extends is None:
                raise s.serializers.ValidationError({"extends": "No such authorization."})
        auth = auth_svc.request_authorization(obj, acting_user=request.user, extends=extends, **data)
        return Response(s.AuthorizationSerializer(auth).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[s.ReturnFileQuerySerializer], responses=s.ReturnRowSerializer(many=True))
    @action(detail=False, methods=["get"], url_path="return-file", pagination_class=None)
    def return_file(self, request):
        """The monthly return file to plans: referral status, date of the status update and the
        loop-closure reason (the page offers the same rows as CSV)."""
        query = s.ReturnFileQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        referrals = self._plan_scope(query.validated_data.get("plan"))
        year, month = query.validated_data["year"], query.validated_data["month"]
        rows = list(selectors.return_file_rows(referrals, year, month))
        in_file = selectors.return_file_referrals(referrals, year, month).values_list("member_id", flat=True)
        member_svc.record_view(
            acting_user=request.user,
            members=in_file.order_by().distinct(),
            where=f"API status return file for {year}-{month:02d}",
        )
        return Response(s.ReturnRowSerializer(rows, many=True).data)

    @extend_schema(parameters=[s.ReturnFileQuerySerializer], responses=s.OutreachRowSerializer(many=True))
    @action(detail=False, methods=["get"], url_path="outreach-tracker", pagination_class=None)
    def outreach_tracker(self, request):
        """The outreach tracker file: every attempt to reach a referred member in the month."""
        query = s.ReturnFileQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        referrals = self._plan_scope(query.validated_data.get("plan"))
        year, month = query.validated_data["year"], query.validated_data["month"]
        rows = list(selectors.outreach_rows(referrals, year, month))
        in_file = selectors.outreach_attempts(referrals, year, month).values_list(
            "referral__member_id", flat=True
        )
        member_svc.record_view(
            acting_user=request.user,
            members=in_file.order_by().distinct(),
            where=f"API outreach tracker for {year}-{month:02d}",
        )
        return Response(s.OutreachRowSerializer(rows, many=True).data)

    def _plan_scope(self, plan_id: int | None):
        referrals = Referral.objects.visible_to(self.request.user)
        return referrals.filter(plan_id=plan_id) if plan_id else referrals


class _AuditedMemberReads:
    """list and retrieve of rows that show a member (``member_id``): one VIEW audit row per
    request naming the members, like the pages."""

    audit_where = "API"

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)  # type: ignore[misc]
        rows = response.data["results"] if isinstance(response.data, dict) else response.data
        ids = self.get_queryset().filter(pk__in=[r["id"] for r in rows]).values_list("member_id", flat=True)  # type: ignore[attr-defined]
        member_svc.record_view(acting_user=request.user, members=ids, where=f"{self.audit_where} list")
        return response

    def retrieve(self, request, *args, **kwargs):
        obj = self.get_object()  # type: ignore[attr-defined]
        member_svc.record_view(
            acting_user=request.user, members=[obj.member_id], where=f"{self.audit_where} {obj.pk}"
        )
        return Response(self.get_serializer(obj).data)  # type: ignore[attr-defined]


class AuthorizationViewSet(_AuditedMemberReads, ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Authorizations of referrals' services. The plan authorizes from the referral
    (POST /referrals/{id}/authorize/) and decides CBOs' requests here."""

    queryset = Authorization.objects.for_list()
    serializer_class = s.AuthorizationSerializer
    filterset_class = filters.AuthorizationFilter
    ordering_fields = ["end_date", "created_at"]
    audit_where = "API authorization"

    @extend_schema(request=s.DecideSerializer, responses=s.AuthorizationSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        obj, data = self.object_and_body(s.DecideSerializer)
        auth = auth_svc.decide(obj, acting_user=request.user, **data)
        return Response(s.AuthorizationSerializer(self.get_queryset().get(pk=auth.pk)).data)


def _referral_in_scope(request, pk: int) -> Referral:
    referral = Referral.objects.visible_to(request.user).filter(pk=pk).first()
    if referral is None:
        raise s.serializers.ValidationError({"referral": "No such referral."})
    return referral


class ServiceDeliveryViewSet(
    _AuditedMemberReads,
    ScopedViewSetMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """Logged services. CBO staff log (one day, a range, or a daily series), edit or void until
    billed, then only correct (void + new entry); the plan reads."""

    # What DeliverySerializer shows and no more: every join multiplies the planner's work (the
    # list pages' seven took 15 ms to plan a query that ran in 1).
    queryset = ServiceDelivery.objects.select_related(
        "member", "service", "staff", "referral", "authorization"
    )
    serializer_class = s.DeliverySerializer
    filterset_class = filters.ServiceDeliveryFilter
    ordering_fields = ["service_date", "created_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    audit_where = "API service delivery"
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def _out(self, delivery: ServiceDelivery, code: int = status.HTTP_200_OK) -> Response:
        return Response(s.DeliverySerializer(self.get_queryset().get(pk=delivery.pk)).data, status=code)

    @extend_schema(request=s.DeliveryInputSerializer, responses={201: s.DeliverySerializer})
    def create(self, request, *args, **kwargs):
        body = s.DeliveryInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        referral = _referral_in_scope(request, data.pop("referral"))
        delivery = delivery_svc.log_service(acting_user=request.user, referral=referral, **data)
        return self._out(delivery, status.HTTP_201_CREATED)

    @extend_schema(request=s.DeliveryEditSerializer, responses=s.DeliverySerializer)
    def partial_update(self, request, *args, **kwargs):
        obj, data = self.object_and_body(s.DeliveryEditSerializer)
        delivery = delivery_svc.edit_delivery(obj, acting_user=request.user, changes=dict(data))
        return self._out(delivery)

    @extend_schema(request=s.DeliverySeriesSerializer, responses={201: s.DeliverySerializer(many=True)})
    @action(detail=False, methods=["post"])
    def series(self, request):
        """Bulk entry for daily services: one entry per date, all or none."""
        body = s.DeliverySeriesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        referral = _referral_in_scope(request, data.pop("referral"))
        created = delivery_svc.log_series(acting_user=request.user, referral=referral, **data)
        rows = self.get_queryset().filter(pk__in=[d.pk for d in created]).order_by("service_date")
        return Response(s.DeliverySerializer(rows, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.VoidSerializer, responses=s.DeliverySerializer)
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        obj, data = self.object_and_body(s.VoidSerializer)
        return self._out(delivery_svc.void_delivery(obj, acting_user=request.user, **data))

    @extend_schema(request=s.CorrectSerializer, responses={201: s.DeliverySerializer})
    @action(detail=True, methods=["post"])
    def correct(self, request, pk=None):
        """Void the entry (billed or not) and log the corrected one in its place."""
        obj, data = self.object_and_body(s.CorrectSerializer)
        data = dict(data)
        reason = data.pop("reason")
        _voided, new = delivery_svc.correct_delivery(obj, acting_user=request.user, reason=reason, **data)
        return self._out(new, status.HTTP_201_CREATED)


class OutreachAttemptViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Attempts to reach referred members (logged with POST /referrals/{id}/outreach/)."""

    queryset = OutreachAttempt.objects.select_related("referral", "staff")
    serializer_class = s.OutreachAttemptSerializer
    filterset_fields = ["referral", "method", "successful"]


class RosterViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """A plan's eligibility rosters: upload one (checked, then applied whole by a task, or not at
    all with every bad row listed), poll its progress, read what it changed."""

    queryset = RosterImport.objects.all()
    serializer_class = s.RosterSerializer
    filterset_fields = ["status"]

    def get_serializer_class(self):
        return s.RosterDetailSerializer if self.action == "retrieve" else s.RosterSerializer

    @extend_schema(
        request={"multipart/form-data": s.RosterUploadSerializer}, responses={201: s.RosterSerializer}
    )
    def create(self, request, *args, **kwargs):
        """The same file again answers 200 with the earlier roster and changes nothing."""
        body = s.RosterUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        plan = member_svc.coverage_plan(request.user, body.validated_data.get("plan"))
        roster, created = roster_svc.start_roster(
            acting_user=request.user,
            plan=plan,
            upload=body.validated_data["file"],
            roster_date=body.validated_data["roster_date"],
        )
        roster.refresh_from_db()
        return Response(
            s.RosterSerializer(roster).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class ReferralImportViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Bulk referral files: upload (checked and imported by a task), poll progress, read every bad
    row. A file with a bad row imports nothing unless the plan then chooses ``import-valid``."""

    queryset = ReferralImport.objects.all()
    serializer_class = s.ReferralImportSerializer
    filterset_fields = ["status"]
    http_method_names = ["get", "post", "head", "options"]

    def get_serializer_class(self):
        return s.ReferralImportDetailSerializer if self.action == "retrieve" else s.ReferralImportSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset.prefetch_related("row_errors") if self.action == "retrieve" else queryset

    @extend_schema(
        request={"multipart/form-data": s.ReferralFileUploadSerializer},
        responses={201: s.ReferralImportSerializer},
    )
    def create(self, request, *args, **kwargs):
        body = s.ReferralFileUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        plan = _org(request, None, (OrgKind.PLAN,), "plan")
        cbo_id = body.validated_data.get("cbo")
        cbo = _org(request, cbo_id, (OrgKind.CBO, OrgKind.HUB), "cbo") if cbo_id else None
        batch, created = import_svc.start_import(
            acting_user=request.user, plan=plan, upload=body.validated_data["file"], cbo=cbo
        )
        batch.refresh_from_db()
        return Response(
            s.ReferralImportSerializer(batch).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(request=None, responses=s.ReferralImportSerializer)
    @action(detail=True, methods=["post"], url_path="import-valid")
    def import_valid(self, request, pk=None):
        obj, _ = self.object_and_body(s.EmptySerializer)
        batch = import_svc.import_valid_rows(obj, acting_user=request.user)
        batch.refresh_from_db()
        return Response(s.ReferralImportSerializer(batch).data)
