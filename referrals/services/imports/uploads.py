"""The plan's actions on referral files: upload one, or import only the valid rows of a checked one."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import transaction

from cbo_portal.choices import AuditAction
from cbo_portal.models import Organization
from cbo_portal.services import audit
from referrals.choices import ImportStatus
from referrals.models import (
    ReferralImport,
)
from referrals.services.common import PLAN_REFERRERS, require_plan_role
from referrals.services.imports.reading import MAX_BYTES, sha256_of
from referrals.services.referrals import check_provider


@transaction.atomic
def start_import(
    *, acting_user, plan: Organization, upload: File, cbo: Organization | None = None
) -> tuple[ReferralImport, bool]:
    """Store an uploaded referral file and queue it. The same file uploaded again by the same plan
    returns the earlier import (``created`` False) and creates nothing new."""
    require_plan_role(acting_user, plan, PLAN_REFERRERS, action="upload referral files")
    if cbo is not None:
        check_provider(cbo)
    size = upload.size or 0
    if size > MAX_BYTES:
        raise ValidationError(
            {
                "file": f"The file is {size / 1048576:.0f} MB; the most we take is "
                f"{MAX_BYTES // 1048576} MB. Split it into smaller files."
            }
        )
    sha = sha256_of(upload)
    existing = ReferralImport.objects.filter(plan=plan, sha256=sha).first()
    if existing is not None:
        return existing, False
    name = (getattr(upload, "name", "") or "referrals.csv").rsplit("/", 1)[-1][:255]
    batch = ReferralImport(
        plan=plan, cbo=cbo, original_name=name, size=size, sha256=sha, uploaded_by=acting_user
    )
    batch.file.save(name, upload, save=False)
    batch.save()
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=batch,
        organization=plan,
        summary=f"Uploaded referral file {name} ({size} bytes)",
    )
    from referrals.tasks import process_referral_import

    transaction.on_commit(lambda: process_referral_import.delay(batch.pk))
    return batch, True


@transaction.atomic
def import_valid_rows(batch: ReferralImport, *, acting_user) -> ReferralImport:
    """The plan explicitly chooses to import a checked file's valid rows and leave out the bad ones
    (which stay listed in the report)."""
    require_plan_role(acting_user, batch.plan_id, PLAN_REFERRERS, action="import referral files")
    batch = ReferralImport.objects.select_for_update().get(pk=batch.pk)
    if batch.status != ImportStatus.INVALID:
        raise ValidationError("Only a checked file with bad rows can be imported without them.")
    if batch.error_rows >= batch.total_rows:
        raise ValidationError("Every row of this file is bad; there is nothing to import.")
    batch.valid_rows_only, batch.status, batch.message = True, ImportStatus.PENDING, ""
    batch.save(update_fields=["valid_rows_only", "status", "message"])
    audit.record(
        actor=acting_user,
        action=AuditAction.UPDATE,
        obj=batch,
        organization=batch.plan if batch.plan_id else None,
        summary=f"Chose to import the valid rows of {batch.original_name}",
    )
    from referrals.tasks import process_referral_import

    transaction.on_commit(lambda: process_referral_import.delay(batch.pk))
    return batch
