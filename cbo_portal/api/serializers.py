from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from cbo_portal.choices import CalAIMService, DocumentKind, OnboardingStatus, Role
from cbo_portal.models import ApiToken, AuditEvent, County, Document, Invitation, Membership, Organization
from cbo_portal.services.organizations import PROFILE_FIELDS


class IdField(serializers.IntegerField):
    """A record's id given in a request: a positive number a database can hold, or a 400 naming
    the field (an unbounded one reached the database, which may overflow into a 500)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(min_value=1, max_value=2**63 - 1, **kwargs)


class CountySerializer(serializers.ModelSerializer):
    class Meta:
        model = County
        fields = ["id", "fips", "name"]


class OrganizationSerializer(serializers.ModelSerializer):
    counties = serializers.SlugRelatedField(
        many=True, slug_field="name", queryset=County.objects.all(), required=False
    )
    services_offered = serializers.ListField(
        child=serializers.ChoiceField(choices=CalAIMService.choices), required=False
    )
    onboarding_status = serializers.ChoiceField(choices=OnboardingStatus.choices, read_only=True)

    class Meta:
        model = Organization
        fields = [
            "id",
            "kind",
            *[f for f in PROFILE_FIELDS if f != "hub"],
            "hub",
            "counties",
            "onboarding_status",
            "submitted_at",
            "approved_at",
            "created_at",
        ]
        read_only_fields = ["kind", "hub", "submitted_at", "approved_at", "created_at"]
        extra_kwargs = {"legal_name": {"required": False}}


class ChecklistItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    done = serializers.BooleanField()
    hint = serializers.CharField()


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=[(s, OnboardingStatus(s).label) for s in ("approved", "changes_requested", "rejected")]
    )
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "email", "first_name", "last_name"]


class MembershipSerializer(serializers.ModelSerializer):
    user = UserSerializer(read_only=True)
    organization_name = serializers.CharField(source="organization.legal_name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "organization", "organization_name", "role", "is_active", "created_at"]
        read_only_fields = ["organization", "created_at"]


class InvitationSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = Invitation
        fields = ["id", "organization", "email", "role", "status", "created_at", "expires_at", "accepted_at"]
        read_only_fields = ["organization", "created_at", "expires_at", "accepted_at"]


class DocumentSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    file = serializers.FileField(write_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id",
            "organization",
            "kind",
            "file",
            "original_name",
            "content_type",
            "size",
            "sha256",
            "uploaded_at",
            "superseded",
            "download_url",
        ]
        read_only_fields = [
            "organization",
            "original_name",
            "content_type",
            "size",
            "sha256",
            "uploaded_at",
            "superseded",
        ]

    def get_download_url(self, obj: Document) -> str:
        from django.urls import reverse

        return reverse("document_download", args=[obj.pk])


class AuditEventSerializer(serializers.ModelSerializer):
    actor_email = serializers.CharField(source="actor.email", read_only=True, default=None)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor",
            "actor_email",
            "organization",
            "action",
            "object_type",
            "object_id",
            "summary",
            "changes",
            "ip_address",
        ]
        read_only_fields = fields


class ApiTokenSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once, at creation")

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "organization",
            "key_prefix",
            "key",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = ["key_prefix", "created_at", "last_used_at", "revoked_at"]
