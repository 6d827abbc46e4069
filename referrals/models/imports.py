"""Bulk referral files uploaded by plans, their progress and every bad row."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from referrals.choices import ImportStatus


def import_path(instance: ReferralImport, filename: str) -> str:
    return f"referral_imports/{instance.plan_id}/{uuid.uuid4().hex}.csv"


class ReferralImportQuerySet(models.QuerySet):
    def visible_to(self, user) -> ReferralImportQuerySet:
        """Only the uploading plan's people (and platform admins) see its files."""
        from cbo_portal.access import is_platform_admin, member_org_ids

        if not getattr(user, "is_authenticated", False):
            return self.none()
        if is_platform_admin(user):
            return self.all()
        return self.filter(plan_id__in=sorted(member_org_ids(user)))


class ReferralImport(models.Model):
    """One uploaded referral file. Processed by a task: every row is checked first; if any row is
    bad nothing is imported (unless the plan then chooses to import the valid rows only). The same
    file (by SHA-256) is imported once per plan; each row's plan reference is imported once."""

    plan = models.ForeignKey("cbo_portal.Organization", on_delete=models.PROTECT, related_name="+")
    cbo = models.ForeignKey(
        "cbo_portal.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The CBO rows are referred to unless a row names another by NPI",
    )
    file = models.FileField(upload_to=import_path)
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    valid_rows_only = models.BooleanField(default=False)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    error_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0, help_text="Rows already imported earlier")
    message = models.CharField(max_length=300, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ReferralImportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "sha256"], name="referral_import_once_per_file")
        ]

    def __str__(self) -> str:
        return self.original_name

    @property
    def percent(self) -> int:
        if self.status in (ImportStatus.DONE, ImportStatus.INVALID, ImportStatus.FAILED):
            return 100
        if not self.total_rows:
            return 0
        # Checking every row is the first half of the work, creating them the second.
        return min(99, int(self.processed_rows * 100 / (2 * self.total_rows)))

    @property
    def progress_text(self) -> str:
        """Where the work is, in words: rows are checked first (the first ``total_rows`` of
        ``processed_rows``), then created (the rest)."""
        total = self.total_rows
        checked = min(self.processed_rows, total)
        created = max(self.processed_rows - total, 0)
        rows = "row" if total == 1 else "rows"
        if created:
            return f"{total} {rows} checked, {min(created, total)} of {total} imported"
        return f"{checked} of {total} {rows} checked"

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.INVALID, ImportStatus.FAILED)


class ImportRowError(models.Model):
    """A bad row (or a problem with the whole file, line 0/1): where, which column, and why."""

    batch = models.ForeignKey(ReferralImport, on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField()
    column = models.CharField(max_length=40, blank=True)
    message = models.CharField(max_length=300)

    class Meta:
        ordering = ["line", "pk"]
        indexes = [models.Index(fields=["batch", "line"])]

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"
