"""Checks an incoming X12 file (835, 999) must pass before it is parsed or anything is stored.

Framework-free and parser-free on purpose: they run at the intake boundary (``decode_x12``, which
the upload page, the API, the SFTP pickup and the management commands all go through), so the
parser never sees such a file.
"""

from __future__ import annotations


def nul_byte_problem(data: bytes, what: str) -> str | None:
    """X12 is text: a NUL byte means a damaged or wrong file, and no database column can hold one
    (PostgreSQL refuses NUL in text), so the file is refused whole, saying where."""
    at = data.find(b"\x00")
    if at < 0:
        return None
    return f"the {what} file contains a NUL byte at offset {at}; an X12 file is plain text, so nothing was stored"
