"""Claims: built from billable service deliveries, scrubbed, corrected and voided.

The package, by responsibility:

* ``drafting.py``: from deliveries to priced, unsaved claims (grouping, rates, diagnoses,
  modifiers, contract);
* ``saving.py``: scrubbing new claims and inserting them with their lines and history;
* ``bulk.py``: the builder: streams the billable deliveries, chunk by chunk, shard by shard;
* ``lifecycle.py``: one claim at a time: re-scrub, correct (frequency 7), void (frequency 8).

Rules:
* A claim groups one billing provider's deliveries for one plan, member, authorization and month
  of service (by the first day of each delivery), at most 50 lines; a bigger group is split.
* Each line charges units × the contract rate in force on its date of service (the contracts
  ``RateBook``), rounded by ``contracts.money.money``. Diagnosis codes come from the referrals,
  principal first. Modifiers come from the service catalog (plus GQ for telehealth when the
  service allows it).
* The billing provider is the CBO that delivered the service; the submitter is its hub when it
  has one (the hub bills for its member CBOs), otherwise the CBO itself.
* Every claim gets a control number (CLM01) unique per billing provider, every line a line
  control number (REF*6R); see ``control_numbers``.
* A delivery is on at most one live claim line (the database's partial unique constraint). The
  builder locks the deliveries it takes (``skip_locked``), so two coordinators building at once
  each bill different services, and marks them billed in the same transaction.
* New claims are scrubbed at once: draft → held (errors) or ready. The nightly run puts clean
  ones straight into batches (``batches.BatchFiller``): draft → in_batch in the same insert, one
  history row saying both.
"""

from billing.services.claims.bulk import (
    ChunkHook,
    Shard,
    billable_deliveries,
    build_claims,
    require_builder,
)
from billing.services.claims.drafting import submitter_for
from billing.services.claims.lifecycle import (
    CORRECTABLE,
    RESCRUBBABLE,
    CorrectionPreview,
    correct_claim,
    preview_correction,
    require_biller,
    rescrub_claim,
    rescrub_held,
    void_claim,
)
from billing.services.claims.saving import BuildResult

__all__ = [
    "CORRECTABLE",
    "RESCRUBBABLE",
    "BuildResult",
    "ChunkHook",
    "CorrectionPreview",
    "Shard",
    "billable_deliveries",
    "build_claims",
    "correct_claim",
    "preview_correction",
    "require_biller",
    "require_builder",
    "rescrub_claim",
    "rescrub_held",
    "submitter_for",
    "void_claim",
]
