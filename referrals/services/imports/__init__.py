"""Bulk referral files: upload, check every row, then import all of them (or, when the plan
explicitly chooses, only the valid ones).

The package, by responsibility:

* ``reading.py``: the CSV file: its columns and their aliases, streamed rows, what makes a whole
  file unusable;
* ``rows.py``: one row checked against the member and referral rules (``referrals.rules``);
* ``uploads.py``: the plan's actions: upload a file, import only its valid rows;
* ``checking.py``: the first pass: every row checked, duplicates found, problems stored;
* ``writing.py``: the second pass: members and referrals written in batches in one transaction;
* ``processing.py``: the task's body, both passes, and the import's status and progress.

Policy: a file with any bad row imports nothing; the result lists every bad row with its line
number, column and reason. The plan can fix the file and upload it again, or choose "import the
valid rows". The same file (by SHA-256) is imported once per plan, and each row's plan reference
once, so uploading a file twice creates nothing new. Members are upserted by CIN.

The file is streamed (csv over a text wrapper) in both passes; only the plan references seen so
far are kept in memory, to report duplicate rows; the clean rows wait in a local temporary file
between the passes. Rows are written in batches (COPY on PostgreSQL, ``bulk_create`` elsewhere)
inside one transaction, so a crash never leaves half a file; on PostgreSQL progress is
written through a second connection so the page can show it while the transaction is open.
"""

from referrals.services.imports.processing import process
from referrals.services.imports.reading import OPTIONAL, REQUIRED, FileProblem, read_rows
from referrals.services.imports.uploads import import_valid_rows, start_import

__all__ = ["OPTIONAL", "REQUIRED", "FileProblem", "import_valid_rows", "process", "read_rows", "start_import"]
