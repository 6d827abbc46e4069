"""Batches of claims sent to a plan, how each plan takes them, control numbers and 999s."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.choices import AckKind, BatchFormat, BatchStatus, DeliveryMethod
from billing.scope import billing_scope_q


class ControlNumberCounter(models.Model):
    """The last ISA13/GS06/ST02 number used per submitter and kind. Numbers are taken under a
    row lock and never reused, so interchange and group control numbers only increase."""

    key = models.CharField(max_length=60, unique=True, help_text="e.g. 'isa:<submitter id>'")
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class PlanChannelQuerySet(models.QuerySet):
    def visible_to(self, user) -> PlanChannelQuerySet:
        from billing.scope import PLAN_BILLING_ROLES
        from cbo_portal.access import is_platform_admin, org_ids_with_roles

        if is_platform_admin(user):
            return self
        return self.filter(plan_id__in=org_ids_with_roles(user, PLAN_BILLING_ROLES))


class PlanChannel(models.Model):
    """How a plan takes files and returns 999s, 277CAs, TA1s and 835s: download by hand, or SFTP to
    the plan's host, and the interchange envelope it expects (test or production, TA1 requested,
    id qualifiers), which every 837P for the plan is written with. The private key is read from ``private_key_path`` (a mounted secret), never stored in
    the database; the host key must be pinned."""

    plan = models.OneToOneField(
        "cbo_portal.Organization", on_delete=models.CASCADE, related_name="billing_channel"
    )
    method = models.CharField(max_length=10, choices=DeliveryMethod.choices, default=DeliveryMethod.DOWNLOAD)
    host = models.CharField(max_length=200, blank=True)
    port = models.PositiveIntegerField(default=22)
    username = models.CharField(max_length=100, blank=True)
    private_key_path = models.CharField(max_length=300, blank=True)
    host_key = models.TextField(
        blank=True, help_text="The server's public host key (known_hosts line or base64)"
    )
    inbound_dir = models.CharField(max_length=200, blank=True, help_text="Where we upload claim files")
    outbound_dir = models.CharField(
        max_length=200, blank=True, help_text="Where the plan leaves 999 and 835 files"
    )
    archive_dir = models.CharField(max_length=200, blank=True, help_text="Where picked-up files are moved")
    # The interchange envelope the plan expects on our 837P files (ISA05/07, ISA14, ISA15).
    usage_indicator = models.CharField(
        "usage (ISA15)",
        max_length=1,
        choices=[("P", "Production"), ("T", "Test")],
        default="P",
        help_text="Test while the plan onboards us; production once it says so",
    )
    ta1_requested = models.BooleanField(
        "TA1 requested (ISA14)", default=False, help_text="Ask the plan for a TA1 interchange acknowledgement"
    )
    sender_qualifier = models.CharField(
        "sender id qualifier (ISA05)",
        max_length=2,
        default="ZZ",
        help_text="ZZ mutually defined, 30 TIN, ...",
    )
    receiver_qualifier = models.CharField(
        "receiver id qualifier (ISA07)",
        max_length=2,
        default="ZZ",
        help_text="ZZ mutually defined, 30 TIN, ...",
    )

    objects = PlanChannelQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.plan}: {self.get_method_display()}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        for name in ("sender_qualifier", "receiver_qualifier"):
            value = getattr(self, name)
            if len(value) != 2 or not value.isascii() or not value.isalnum():
                raise ValidationError(
                    {name: "An interchange id qualifier is two letters or digits (ZZ, 01, 30, ...)."}
                )


class BatchQuerySet(models.QuerySet):
    def visible_to(self, user) -> BatchQuerySet:
        """The submitter's admins and billing coordinators (and its hub's), the receiving plan's
        billing roles once the batch is sent, platform admins."""
        q = billing_scope_q(user, provider="submitter", submitter=None, plan=None)
        if q is None:
            return self
        plan_q = billing_scope_q(user, provider="submitter", submitter=None, plan="plan")
        sent = Q(status__in=[BatchStatus.SUBMITTED, BatchStatus.ACKNOWLEDGED])
        return self.filter(q | (plan_q & sent))


class Batch(models.Model):
    """The claims one submitter sends one plan in one file.

    building → ready → submitting → submitted → acknowledged (or failed, retried). A claim is in
    at most one batch (a single foreign key). The file is written once, stored with its
    SHA-256, and the ``idempotency_key`` is saved before the file leaves, so a rerun after a
    crash resumes instead of sending twice.
    """

    submitter = models.ForeignKey("cbo_portal.Organization", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey("cbo_portal.Organization", on_delete=models.PROTECT, related_name="+")
    format = models.CharField(max_length=10, choices=BatchFormat.choices, default=BatchFormat.X12_837P)
    status = models.CharField(max_length=14, choices=BatchStatus.choices, default=BatchStatus.BUILDING)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    interchange_control = models.PositiveIntegerField(null=True, blank=True, help_text="ISA13")
    group_control = models.PositiveIntegerField(null=True, blank=True, help_text="GS06")
    first_set_control = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="ST02 of the first transaction set (837P batches; reserved with the batch)",
    )
    file = models.FileField(upload_to="batches/%Y/%m/", blank=True)
    file_name = models.CharField(max_length=120, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    claim_count = models.PositiveIntegerField(default=0)
    total_billed = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    remote_path = models.CharField(max_length=300, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    build_run = models.UUIDField(
        null=True,
        blank=True,
        editable=False,
        help_text="The nightly build that fills it: the build's processes share it (BatchFiller)",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BatchQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["submitter", "plan", "status"], name="batch_submitter_plan_status")]

    def __str__(self) -> str:
        return f"Batch {self.pk} to {self.plan}"


class BatchStatusChange(models.Model):
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=14, choices=BatchStatus.choices)
    to_status = models.CharField(max_length=14, choices=BatchStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Batch {self.batch_id}: {self.from_status} → {self.to_status}"


class AcknowledgementQuerySet(models.QuerySet):
    def visible_to(self, user) -> AcknowledgementQuerySet:
        return self.filter(batch__in=Batch.objects.visible_to(user))


class Acknowledgement(models.Model):
    """An imported answer to one of our batches: a 999 (which transaction sets the clearinghouse
    accepted or rejected), a 277CA (which claims the payer accepted or rejected) or a TA1 (whether
    the interchange was readable), with its errors in words.

    A file answers to whom it addresses: it is imported only for the batch it answers, by that
    batch's submitter (or the system), and its identity is that batch plus its bytes, so one
    organization's import never stands in for another's.
    """

    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.PROTECT, related_name="acknowledgements"
    )
    file = models.FileField(upload_to="acks/%Y/%m/")
    file_name = models.CharField(max_length=200)
    kind = models.CharField(max_length=5, choices=AckKind.choices, default=AckKind.FA999)
    sha256 = models.CharField(max_length=64)
    accepted_sets = models.PositiveIntegerField(default=0)
    rejected_sets = models.PositiveIntegerField(default=0)
    results = models.JSONField(
        default=list, help_text="Per transaction set (999), per claim (277CA) or the interchange (TA1)"
    )
    warnings = models.JSONField(default=list, blank=True, help_text="Contradictions found in the file")
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    imported_at = models.DateTimeField(auto_now_add=True)

    # Not stored: set by ``billing.services.acks.import_ack`` on what it returns, True when the file
    # had been imported before and nothing changed.
    already_imported: bool = False

    objects = AcknowledgementQuerySet.as_manager()

    class Meta:
        ordering = ["-imported_at"]
        constraints = [models.UniqueConstraint(fields=["batch", "sha256"], name="ack_file_once_per_batch")]
        indexes = [models.Index(fields=["sha256"], name="ack_sha256")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.file_name}"


class UnreadFileQuerySet(models.QuerySet):
    def visible_to(self, user) -> UnreadFileQuerySet:
        """Platform admins and the plan's billing roles see every one; a provider's billing staff
        see those from plans they have sent batches to."""
        q = billing_scope_q(user, provider="submitter", submitter=None, plan=None)
        if q is None:
            return self
        plan_side = billing_scope_q(user, provider="submitter", submitter=None, plan="plan")
        plans = Batch.objects.filter(q | plan_side).values("plan_id")
        return self.filter(plan_id__in=plans)


class UnreadFile(models.Model):
    """A file the SFTP pickup found in a plan's outbound folder and could not import (not an
    835/999/277CA/TA1, malformed, or refused): recorded with the reason, shown to billing
    coordinators and left in place, so nothing is ever skipped silently. Seen again on a later run,
    the same file (name and SHA-256) updates ``last_seen_at``."""

    plan = models.ForeignKey("cbo_portal.Organization", on_delete=models.CASCADE, related_name="+")
    file_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    reason = models.TextField()
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    objects = UnreadFileQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "file_name", "sha256"], name="unread_file_once")
        ]

    def __str__(self) -> str:
        return f"Unread {self.file_name} from {self.plan}"
