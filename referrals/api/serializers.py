"""Serializers of the referrals API: read shapes for lists and details, and request bodies for
the actions (each body is validated after the object is found in scope)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cbo_portal.api.serializers import IdField
from contracts.choices import ConsentKind
from contracts.models import ServiceCatalogEntry, UnknownService
from referrals import selectors
from referrals.choices import (
    AuthorizationStatus,
    ConsentMethod,
    ConsentStatus,
    ContactPreference,
    LoopClosureReason,
    OutreachMethod,
    PlaceOfService,
    PopulationOfFocus,
    Priority,
    ReferralSource,
    Sex,
)
from referrals.models import (
    Authorization,
    AuthorizationStatusChange,
    Consent,
    Enrollment,
    ImportRowError,
    Member,
    MemberCorrection,
    OutreachAttempt,
    Referral,
    ReferralImport,
    ReferralStatusChange,
    RosterImport,
    RosterRowError,
    ServiceDelivery,
)


def resolve_service(label: str) -> ServiceCatalogEntry:
    """``"G9008-U1"`` → the catalog entry, or a field error naming the label."""
    code, *mods = (label or "").strip().upper().split("-")
    try:
        return ServiceCatalogEntry.lookup(code, mods)
    except UnknownService as error:
        raise serializers.ValidationError(error.messages) from error


@extend_schema_field({"type": "string", "example": "G9008-U1", "description": "HCPCS code and modifiers"})
class ServiceLabelField(serializers.Field):
    def to_representation(self, value: ServiceCatalogEntry) -> str:
        return value.label

    def to_internal_value(self, data: str) -> ServiceCatalogEntry:
        return resolve_service(str(data))


class MemberSerializer(serializers.ModelSerializer):
    county = serializers.CharField(source="county.name", default="", read_only=True)

    class Meta:
        model = Member
        fields = [
            "id",
            "cin",
            "first_name",
            "last_name",
            "dob",
            "sex",
            "phone",
            "street",
            "city",
            "state",
            "zip",
            "county",
            "preferred_language",
        ]
        read_only_fields = fields


class EnrollmentSerializer(serializers.ModelSerializer):
    """A period of a member's coverage with a plan (owned by the plan)."""

    plan = serializers.StringRelatedField()
    plan_id = serializers.IntegerField(read_only=True)
    member_id = serializers.IntegerField(read_only=True)
    recorded_by = serializers.StringRelatedField()

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "member_id",
            "plan",
            "plan_id",
            "start_date",
            "end_date",
            "aid_code",
            "program",
            "source",
            "recorded_by",
            "updated_at",
        ]
        read_only_fields = fields


class EnrollmentInputSerializer(serializers.Serializer):
    """A plan records a period of coverage: the member by id, the plan by id (the caller's own
    plan when it has just one)."""

    member = IdField()
    plan = IdField(required=False)
    start_date = serializers.DateField()
    end_date = serializers.DateField(required=False, allow_null=True)
    aid_code = serializers.CharField(max_length=4, required=False, allow_blank=True, default="")
    program = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")


class EnrollmentChangeSerializer(serializers.Serializer):
    start_date = serializers.DateField(required=False)
    end_date = serializers.DateField(required=False, allow_null=True)
    aid_code = serializers.CharField(max_length=4, required=False, allow_blank=True)
    program = serializers.CharField(max_length=60, required=False, allow_blank=True)


class EnrollmentEndSerializer(serializers.Serializer):
    end_date = serializers.DateField(help_text="The last day covered.")


ELIGIBILITY_SCHEMA = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["active", "inactive", "unknown"]},
        "plan": {"type": "string", "nullable": True},
        "plan_id": {"type": "integer", "nullable": True},
        "through": {"type": "string", "format": "date", "nullable": True},
        "checked_at": {"type": "string", "format": "date-time", "nullable": True},
        "source": {"type": "string", "nullable": True},
    },
}


class MemberDetailSerializer(MemberSerializer):
    """One member with their eligibility today and their coverage timeline (read once)."""

    eligibility = serializers.SerializerMethodField()
    enrollments = serializers.SerializerMethodField()

    class Meta(MemberSerializer.Meta):
        fields = [*MemberSerializer.Meta.fields, "eligibility", "enrollments"]
        read_only_fields = fields

    def to_representation(self, member):
        self._periods = selectors.coverage(member)
        return super().to_representation(member)

    @extend_schema_field(ELIGIBILITY_SCHEMA)
    def get_eligibility(self, member) -> dict:
        return selectors.eligibility(member, periods=self._periods).as_dict()

    @extend_schema_field(EnrollmentSerializer(many=True))
    def get_enrollments(self, member) -> list:
        return EnrollmentSerializer(self._periods, many=True).data


class ConsentSerializer(serializers.ModelSerializer):
    """One consent statement of a member's (the latest of a kind on a day is what counts)."""

    organization = serializers.StringRelatedField()
    recorded_by = serializers.StringRelatedField()
    has_document = serializers.SerializerMethodField()

    class Meta:
        model = Consent
        fields = [
            "id",
            "kind",
            "status",
            "on",
            "method",
            "note",
            "organization",
            "recorded_by",
            "has_document",
            "document_name",
            "created_at",
        ]
        read_only_fields = fields

    def get_has_document(self, consent) -> bool:
        return bool(consent.document)


class ConsentInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ConsentKind.choices)
    status = serializers.ChoiceField(choices=ConsentStatus.choices)
    on = serializers.DateField(help_text="The day the member gave, refused or revoked it")
    method = serializers.ChoiceField(choices=ConsentMethod.choices)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    document = serializers.FileField(required=False, help_text="The signed form: PDF, PNG or JPEG")


class MemberInputSerializer(serializers.Serializer):
    """The member of a new referral, found by CIN. Non-blank fields update the record only when the
    referring plan is the member's plan; a CBO's details stay on its referral for the plan."""

    cin = serializers.CharField(max_length=9)
    first_name = serializers.CharField(max_length=80)
    last_name = serializers.CharField(max_length=80)
    dob = serializers.DateField()
    sex = serializers.CharField(max_length=1, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    street = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=80, required=False, allow_blank=True)
    zip = serializers.CharField(max_length=10, required=False, allow_blank=True)
    county = serializers.CharField(max_length=60, required=False, allow_blank=True)
    preferred_language = serializers.CharField(max_length=40, required=False, allow_blank=True)


class MemberChangeSerializer(serializers.Serializer):
    """Changes to a member's record: applied by the member's plan, proposed by a CBO serving them.
    Blank or missing fields leave the record as it is."""

    first_name = serializers.CharField(max_length=80, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=80, required=False, allow_blank=True)
    dob = serializers.DateField(required=False, allow_null=True)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    street = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=80, required=False, allow_blank=True)
    zip = serializers.CharField(max_length=10, required=False, allow_blank=True)
    county = serializers.CharField(max_length=60, required=False, allow_blank=True)
    preferred_language = serializers.CharField(max_length=40, required=False, allow_blank=True)


class CorrectionProposalSerializer(MemberChangeSerializer):
    note = serializers.CharField(max_length=300, required=False, allow_blank=True)


class CorrectionDecisionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=300, required=False, allow_blank=True)


class MemberCorrectionSerializer(serializers.ModelSerializer):
    member_cin = serializers.CharField(source="member.cin", read_only=True)
    organization = serializers.StringRelatedField()

    class Meta:
        model = MemberCorrection
        fields = [
            "id",
            "member",
            "member_cin",
            "organization",
            "changes",
            "note",
            "status",
            "decided_at",
            "decision_note",
            "created_at",
        ]
        read_only_fields = fields


class HistorySerializer(serializers.ModelSerializer):
    actor = serializers.StringRelatedField()

    class Meta:
        model = ReferralStatusChange
        fields = ["from_status", "to_status", "actor", "reason", "created_at"]


class ReferralSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    # While a CBO's self/community referral waits for the plan, only what the CBO typed (id null).
    member = MemberSerializer(source="shown_member", read_only=True)
    plan = serializers.StringRelatedField()
    plan_id = serializers.IntegerField(read_only=True)
    cbo = serializers.StringRelatedField()
    cbo_id = serializers.IntegerField(read_only=True)
    service = ServiceLabelField(read_only=True)
    is_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = Referral
        fields = [
            "id",
            "number",
            "member",
            "plan",
            "plan_id",
            "cbo",
            "cbo_id",
            "service",
            "source",
            "plan_reference",
            "reason",
            "diagnosis_codes",
            "priority",
            "population",
            "notes",
            "contact_preference",
            "contact_notes",
            "status",
            "status_changed_at",
            "respond_by",
            "is_overdue",
            "responded_at",
            "decline_reason",
            "closure_reason",
            "closure_note",
            "closed_at",
            "first_service_date",
            "created_at",
        ]
        read_only_fields = fields


class ReferralDetailSerializer(ReferralSerializer):
    history = HistorySerializer(many=True, read_only=True)

    class Meta(ReferralSerializer.Meta):
        fields = [*ReferralSerializer.Meta.fields, "history"]
        read_only_fields = fields


class ReferralCreateSerializer(serializers.Serializer):
    """A plan's referral of one member to one CBO for one service (``source`` plan), or a CBO's
    record of a self/community referral (``source`` self or community, with ``plan``)."""

    member = MemberInputSerializer()
    cbo = IdField(required=False, help_text="The CBO referred to (defaults to the caller's CBO)")
    plan = IdField(required=False, help_text="The plan (defaults to the caller's plan)")
    service = ServiceLabelField()
    source = serializers.ChoiceField(choices=ReferralSource.choices, default=ReferralSource.PLAN)
    reason = serializers.CharField(required=False, allow_blank=True)
    diagnosis_codes = serializers.ListField(child=serializers.CharField(max_length=10), required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.ROUTINE)
    population = serializers.ChoiceField(choices=PopulationOfFocus.choices, required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    contact_preference = serializers.ChoiceField(
        choices=ContactPreference.choices, required=False, allow_blank=True
    )
    contact_notes = serializers.CharField(max_length=200, required=False, allow_blank=True)
    plan_reference = serializers.CharField(max_length=40, required=False, allow_blank=True)


class EmptySerializer(serializers.Serializer):
    pass


class DeclineSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class CloseSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=LoopClosureReason.choices)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class CompleteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class OutreachInputSerializer(serializers.Serializer):
    attempted_on = serializers.DateField()
    method = serializers.ChoiceField(choices=OutreachMethod.choices)
    successful = serializers.BooleanField()
    minutes = serializers.IntegerField(min_value=0, default=0)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class AuthorizeSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=40)
    units = serializers.DecimalField(max_digits=10, decimal_places=2)
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class RequestAuthorizationSerializer(serializers.Serializer):
    units = serializers.DecimalField(max_digits=10, decimal_places=2)
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    extends = IdField(required=False, allow_null=True, help_text="Authorization to extend")


class DecideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=[
            (s.value, s.label)
            for s in (
                AuthorizationStatus.APPROVED,
                AuthorizationStatus.PARTIALLY_APPROVED,
                AuthorizationStatus.DENIED,
            )
        ]
    )
    number = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    units_approved = serializers.DecimalField(
        max_digits=10, decimal_places=2, required=False, allow_null=True
    )
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class AuthorizationHistorySerializer(serializers.ModelSerializer):
    actor = serializers.StringRelatedField()

    class Meta:
        model = AuthorizationStatusChange
        fields = ["from_status", "to_status", "actor", "reason", "created_at"]


class AuthorizationSerializer(serializers.ModelSerializer):
    referral_number = serializers.CharField(source="referral.number", read_only=True)
    member_cin = serializers.CharField(source="member.cin", read_only=True)
    plan = serializers.StringRelatedField()
    cbo = serializers.StringRelatedField()
    service = ServiceLabelField(read_only=True)
    units_remaining = serializers.DecimalField(max_digits=10, decimal_places=2, read_only=True)

    class Meta:
        model = Authorization
        fields = [
            "id",
            "referral",
            "referral_number",
            "member_cin",
            "plan",
            "cbo",
            "service",
            "number",
            "kind",
            "status",
            "units_requested",
            "units_approved",
            "units_used",
            "units_remaining",
            "start_date",
            "end_date",
            "extends",
            "request_note",
            "decision_note",
            "decided_at",
            "created_at",
        ]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    referral_number = serializers.CharField(source="referral.number", read_only=True)
    member_cin = serializers.CharField(source="member.cin", read_only=True)
    service = ServiceLabelField(read_only=True)
    staff = serializers.StringRelatedField()
    authorization_number = serializers.CharField(source="authorization.number", default="", read_only=True)

    class Meta:
        model = ServiceDelivery
        fields = [
            "id",
            "referral",
            "referral_number",
            "member_cin",
            "service",
            "service_date",
            "end_date",
            "units",
            "minutes",
            "place_of_service",
            "note",
            "staff",
            "status",
            "authorization",
            "authorization_number",
            "billed_at",
            "voided_at",
            "void_reason",
            "replaces",
            "created_at",
        ]
        read_only_fields = fields


class DeliveryInputSerializer(serializers.Serializer):
    """One service delivered: units, or minutes converted to the contract's unit."""

    referral = IdField()
    service_date = serializers.DateField()
    end_date = serializers.DateField(required=False, allow_null=True)
    units = serializers.DecimalField(max_digits=10, decimal_places=2, required=False, allow_null=True)
    minutes = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    place_of_service = serializers.ChoiceField(choices=PlaceOfService.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class DeliverySeriesSerializer(serializers.Serializer):
    """Daily services (e.g. meals Monday to Friday): one entry per date, all or none."""

    referral = IdField()
    dates = serializers.ListField(child=serializers.DateField(), min_length=1, max_length=31)
    units = serializers.DecimalField(max_digits=10, decimal_places=2, required=False, allow_null=True)
    minutes = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    place_of_service = serializers.ChoiceField(choices=PlaceOfService.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class DeliveryEditSerializer(serializers.Serializer):
    service_date = serializers.DateField(required=False)
    end_date = serializers.DateField(required=False, allow_null=True)
    units = serializers.DecimalField(max_digits=10, decimal_places=2, required=False)
    minutes = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    place_of_service = serializers.ChoiceField(choices=PlaceOfService.choices, required=False)
    note = serializers.CharField(required=False, allow_blank=True)


class VoidSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class CorrectSerializer(DeliveryEditSerializer):
    reason = serializers.CharField(max_length=300)


class OutreachAttemptSerializer(serializers.ModelSerializer):
    referral_number = serializers.CharField(source="referral.number", read_only=True)
    staff = serializers.StringRelatedField()

    class Meta:
        model = OutreachAttempt
        fields = [
            "id",
            "referral",
            "referral_number",
            "attempted_on",
            "method",
            "successful",
            "minutes",
            "note",
            "staff",
            "created_at",
        ]
        read_only_fields = fields


class ImportRowErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportRowError
        fields = ["line", "column", "message"]


class ReferralImportSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    finished = serializers.BooleanField(read_only=True)

    class Meta:
        model = ReferralImport
        fields = [
            "id",
            "original_name",
            "size",
            "status",
            "valid_rows_only",
            "total_rows",
            "processed_rows",
            "error_rows",
            "created_count",
            "skipped_count",
            "message",
            "percent",
            "finished",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class ReferralImportDetailSerializer(ReferralImportSerializer):
    row_errors = ImportRowErrorSerializer(many=True, read_only=True)

    class Meta(ReferralImportSerializer.Meta):
        fields = [*ReferralImportSerializer.Meta.fields, "row_errors"]
        read_only_fields = fields


class ReferralFileUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    cbo = serializers.IntegerField(
        required=False, help_text="The CBO rows go to unless a row names one by NPI"
    )


class RosterSerializer(serializers.ModelSerializer):
    plan_id = serializers.IntegerField(read_only=True)
    percent = serializers.IntegerField(read_only=True)
    finished = serializers.BooleanField(read_only=True)

    class Meta:
        model = RosterImport
        fields = [
            "id",
            "plan_id",
            "roster_date",
            "original_name",
            "size",
            "status",
            "total_rows",
            "processed_rows",
            "error_rows",
            "added",
            "changed",
            "ended",
            "unchanged",
            "members_created",
            "message",
            "percent",
            "finished",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class RosterRowErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = RosterRowError
        fields = ["line", "column", "message"]


class RosterDetailSerializer(RosterSerializer):
    row_errors = RosterRowErrorSerializer(many=True, read_only=True)

    class Meta(RosterSerializer.Meta):
        fields = [*RosterSerializer.Meta.fields, "row_errors"]
        read_only_fields = fields


class RosterUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV: cin, first_name, last_name, dob, coverage_start[, coverage_end, aid_code]"
    )
    roster_date = serializers.DateField(help_text="The first day the roster speaks for")
    plan = IdField(required=False, help_text="The plan whose roster this is (the caller's own by default)")


class ReturnFileQuerySerializer(serializers.Serializer):
    year = serializers.IntegerField(min_value=2020, max_value=2100)
    month = serializers.IntegerField(min_value=1, max_value=12)
    plan = IdField(required=False)


class ReturnRowSerializer(serializers.Serializer):
    referral = serializers.CharField()
    plan_reference = serializers.CharField()
    plan = serializers.CharField()
    cbo_npi = serializers.CharField()
    member_cin = serializers.CharField()
    service = serializers.CharField()
    status = serializers.CharField()
    status_date = serializers.DateField()
    closure_reason = serializers.CharField()
    closure_note = serializers.CharField()
    first_service_date = serializers.DateField(allow_null=True)


class OutreachRowSerializer(serializers.Serializer):
    referral = serializers.CharField()
    plan_reference = serializers.CharField()
    member_cin = serializers.CharField()
    cbo_npi = serializers.CharField()
    attempted_on = serializers.DateField()
    method = serializers.CharField()
    successful = serializers.BooleanField()
    minutes = serializers.IntegerField()
