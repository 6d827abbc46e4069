"""835 intake and reconciliation: post a plan's remittance advice against our claims.

The package, by responsibility:

* ``rules.py``: the decisions (denial, status after payment, patient responsibility, decoding);
* ``results.py``: what an import reports (``ImportResult``) and the error it raises;
* ``intake.py``: one file from bytes to posted payments: who may import it, its transaction sets,
  the payment already posted, the remittance rows;
* ``posting.py``: the claim payments of a set, posted chunk by chunk with set-based SQL;
* ``worklist.py``: the unmatched work queue.

Rules:

* A payment is posted once. Its identity is the payment, not the file: payer + TRN02 trace number +
  payment date + amount (``billing.x12.remit835.payment_key``). The same payment again, in any
  envelope (new ISA13), with any line breaks or delimiters, is reported as already posted and
  changes nothing (``ImportResult.already_imported``, or ``already_posted`` for the sets of a file
  that were); the stored raw file keeps its own SHA-256.
* A file answers to whom it addresses: a person may import an 835 only for
  the payee it names (N1*PE NPI, else its TIN), that payee's hub, or the submitter of the claims it
  pays. Anyone else gets a clear refusal before anything is written, so a wrong organization's
  attempt neither stores the file nor blocks the payee's own import. System pickups and platform
  admins import for anyone.
* A claim whose net paid exceeds its billed amount is flagged (``Claim.overpaid``, and
  ``ImportResult.overpaid`` in the summary).
* Patient responsibility is CLP05 when sent, else Σ of the claim's PR adjustments
  (``patient_responsibility_of``), so a reversal that carries CAS PR without CLP05 reverses it.
* A file is imported whole or not at all. The parser (``billing.x12.remit835``) checks the
  structure and the balancing (per line, per claim CLP03 − CLP04 = Σ CAS, per payment BPR02 =
  Σ CLP04 − Σ PLB) while we post claims as they stream by, all in one transaction: any error rolls
  everything back and is raised as a ``ValidationError`` whose text names the segment or the numbers
  that disagree.
* Matching: CLP01 is our ``Claim.control_number`` (unique per billing provider). Among claims with
  that number, only those the plan has been sent and not yet corrected or voided qualify
  (submitted, accepted, paid, partially paid, denied); when the payer is known, only its claims;
  when several billing providers still share the number, the payee NPI (N1*PE) picks the one it
  names (as billing provider, its hub, or the submitter). SVC lines match our lines by REF*6R,
  else by procedure code in line order. Anything we cannot match goes to the unmatched work queue
  (``RemittanceClaim.claim`` is null until someone resolves it).
* Money is append-only: one ``Payment`` row per paid line (and one for any claim-level residue),
  one ``Adjustment`` row per CAS triplet (group, CARC, RARCs, amount). The claim's and the line's
  running totals move by the same amounts in the same transaction.
* Reversals (CLP02 22) carry negative amounts and are posted like any CLP, in file order; a
  reversal followed by a new CLP for the same claim is a re-adjudication. The claim's status
  afterwards follows ``adjudicated_status`` from its net paid amount.
* Speed: claims are posted in chunks of ``CHUNK``. Per chunk on PostgreSQL: one claim query and
  one line query (array parameters), ``COPY`` for the new rows, one UPDATE … FROM unnest(arrays)
  for the lines' totals, one statement that writes each claim's totals, ``adjudicated_at`` and
  new status and inserts its history row, and the foreign-key checks of what the chunk wrote
  (``_Pipeline``). Elsewhere the plain ORM does the same.
"""

from billing.services.remittances.intake import import_remittance, uploader_scope
from billing.services.remittances.results import (
    ImportResult,
    RemittanceImportError,
    summarize,
    summarize_file,
)
from billing.services.remittances.rules import (
    adjudicated_status,
    decode_x12,
    is_denial,
    patient_responsibility_of,
)
from billing.services.remittances.worklist import resolve_unmatched, unmatched_reasons

__all__ = [
    "ImportResult",
    "RemittanceImportError",
    "adjudicated_status",
    "decode_x12",
    "import_remittance",
    "is_denial",
    "patient_responsibility_of",
    "resolve_unmatched",
    "summarize",
    "summarize_file",
    "unmatched_reasons",
    "uploader_scope",
]
