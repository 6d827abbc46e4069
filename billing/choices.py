"""Enumerations of the billing app."""

from __future__ import annotations

from django.db import models


class ClaimStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    HELD = "held", "Held"
    READY = "ready", "Ready"
    IN_BATCH = "in_batch", "In batch"
    SUBMITTED = "submitted", "Submitted"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    PAID = "paid", "Paid"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    DENIED = "denied", "Denied"
    CORRECTED = "corrected", "Corrected"
    VOIDED = "voided", "Voided"


# A claim in one of these statuses no longer bills its service deliveries: its lines are not
# "live", so the deliveries may appear on another (replacement) claim.
DEAD_CLAIM_STATUSES = (ClaimStatus.CORRECTED, ClaimStatus.VOIDED)
# Claims whose outcome the plan has decided (paid, short-paid or denied).
ADJUDICATED_STATUSES = (ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED)


class ClaimFrequency(models.TextChoices):
    ORIGINAL = "1", "Original"
    REPLACEMENT = "7", "Replacement"
    VOID = "8", "Void"


class BatchStatus(models.TextChoices):
    BUILDING = "building", "Building"
    READY = "ready", "Ready"
    SUBMITTING = "submitting", "Submitting"
    SUBMITTED = "submitted", "Submitted"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    FAILED = "failed", "Failed"


class BuildStatus(models.TextChoices):
    QUEUED = "queued", "Waiting for a worker"
    RUNNING = "running", "Building"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class AckKind(models.TextChoices):
    FA999 = "999", "999 acknowledgement"
    CA277 = "277CA", "277CA claim acknowledgement"
    TA1 = "TA1", "TA1 interchange acknowledgement"


class BatchFormat(models.TextChoices):
    X12_837P = "837p", "X12 837P"
    INVOICE = "invoice", "Invoice (CSV + printable)"


class DeliveryMethod(models.TextChoices):
    DOWNLOAD = "download", "Download and upload by hand"
    SFTP = "sftp", "SFTP to the plan"


class ProblemSeverity(models.TextChoices):
    ERROR = "error", "Must fix"
    WARNING = "warning", "Warning"


class AdjustmentGroup(models.TextChoices):
    CO = "CO", "Contractual obligation"
    OA = "OA", "Other adjustment"
    PI = "PI", "Payer initiated reduction"
    PR = "PR", "Patient responsibility"
