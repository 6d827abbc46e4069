"""A claim build started from the claims page: what it set out to bill and how far it got."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from billing.choices import BuildStatus


class ClaimBuildQuerySet(models.QuerySet):
    def visible_to(self, user) -> ClaimBuildQuerySet:
        """A build is the page of the person who started it (platform admins see every one)."""
        from cbo_portal.access import is_platform_admin

        return self if is_platform_admin(user) else self.filter(requested_by=user)


class ClaimBuild(models.Model):
    """One "Build claims" run on a Celery worker (``billing.tasks.run_claim_build``).

    ``total`` is the number of billable services when it was asked for; ``done`` the services
    the worker has gone through so far, and ``claims``/``ready``/``held``/``billed_amount`` what
    it made from them, each added in the same transaction as the chunk of claims it counts, so
    the figures on the page never run ahead of (or lose) what was billed, even when a worker dies
    and another redoes the rest."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=BuildStatus.choices, default=BuildStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    claims = models.PositiveIntegerField(default=0)
    ready = models.PositiveIntegerField(default=0)
    held = models.PositiveIntegerField(default=0)
    billed_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    skipped = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ClaimBuildQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["requested_by", "status"], name="claim_build_user_status")]

    def __str__(self) -> str:
        return f"Claim build {self.pk} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        if self.status == BuildStatus.DONE:
            return 100
        return min(99, self.done * 100 // self.total) if self.total else 0
