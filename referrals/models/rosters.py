"""Plans' monthly eligibility rosters: the file, its progress and every bad row."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from django.conf import settings
from django.db import models

from referrals.choices import ImportStatus
from referrals.models.imports import ReferralImportQuerySet


def roster_path(instance: RosterImport, filename: str) -> str:
    return f"rosters/{instance.plan_id}/{uuid.uuid4().hex}.csv"


class RosterImport(models.Model):
    """A plan's eligibility roster: who the plan covers as of ``roster_date``. Applied whole or
    not at all (``referrals.services.rosters``); the same file is applied once per plan."""

    plan = models.ForeignKey("cbo_portal.Organization", on_delete=models.PROTECT, related_name="+")
    roster_date = models.DateField(help_text="The first day the roster speaks for")
    file = models.FileField(upload_to=roster_path)
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    error_rows = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0, help_text="Coverage periods recorded")
    changed = models.PositiveIntegerField(default=0, help_text="Coverage periods changed")
    ended = models.PositiveIntegerField(default=0, help_text="Members no longer on the roster, ended")
    unchanged = models.PositiveIntegerField(default=0)
    members_created = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # The same scope as referral files: the uploading plan's people and platform admins.
    objects = ReferralImportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["plan", "sha256"], name="roster_once_per_file")]

    def __str__(self) -> str:
        return self.original_name

    @property
    def last_day_of_the_missing(self) -> date:
        """Members the plan covered who are not on the roster are covered through this day."""
        return self.roster_date - timedelta(days=1)

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.INVALID, ImportStatus.FAILED)

    @property
    def percent(self) -> int:
        """Rows are checked (the first half of the work), then applied (the second)."""
        if self.finished:
            return 100
        if not self.total_rows:
            return 0
        return min(99, int(self.processed_rows * 100 / (2 * self.total_rows)))

    @property
    def progress_text(self) -> str:
        total, done = self.total_rows, self.processed_rows
        if done > total:
            return f"{total} rows checked, {min(done - total, total)} of {total} applied"
        return f"{min(done, total)} of {total} rows checked"


class RosterRowError(models.Model):
    """A bad row of a roster (line 1: the whole file): where, which column, and why."""

    roster = models.ForeignKey(RosterImport, on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField()
    column = models.CharField(max_length=40, blank=True)
    message = models.CharField(max_length=300)

    class Meta:
        ordering = ["line", "pk"]
        indexes = [models.Index(fields=["roster", "line"])]

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"
