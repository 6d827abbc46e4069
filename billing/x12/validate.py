"""Validate X12 text with pyx12 (an independent validator of the implementation guides).

Usage rule: use pyx12's Python API, not ``x12valid`` (its exit status does
not reflect the result and it writes a ``.997`` next to the input). pyx12 reports problems in the
JSON tree it writes (``errors`` lists on nodes, ISA/GS/ST level errors) and in the 999 it produces
(IK3/IK4/IK5/AK9). ``validate_x12`` gathers both into readable strings; a file is clean only when
pyx12 says ok *and* no error or warning was reported anywhere.

pyx12 does not check business rules (CLM02 = Σ SV102, NPI check digits, diagnosis pointers, REF*F8
on frequency 7/8, 835 balancing): see ``billing.x12.checks`` and the 835 parser for those.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ValidationResult:
    """pyx12's verdict: ``ok`` plus every error/warning found, and the raw 999 it produced."""

    ok: bool
    errors: list[str] = field(default_factory=list)
    ack: str = ""

    def __iter__(self):  # allows ``ok, errors = validate_x12(text)``
        return iter((self.ok, self.errors))


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname.lower()}: {record.getMessage()}")


def _walk_json(node: Any, path: str, out: list[str]) -> None:
    if isinstance(node, dict):
        here = node.get("id") or node.get("name") or path
        for key, value in node.items():
            if key in ("errors", "warnings") and value:
                items = value if isinstance(value, list) else [value]
                for item in items:
                    out.append(f"{here}: {_err_text(item)}")
            else:
                _walk_json(value, str(here), out)
    elif isinstance(node, list):
        for item in node:
            _walk_json(item, path, out)


def _err_text(item: Any) -> str:
    if isinstance(item, dict):
        return ", ".join(f"{k}={v}" for k, v in item.items())
    if isinstance(item, list | tuple):
        return " ".join(str(v) for v in item)
    return str(item)


def _ack_errors(ack: str) -> list[str]:
    """IK3/IK4/IK5 rejections and a non-accepted AK9 from pyx12's 999."""
    problems: list[str] = []
    if not ack.startswith("ISA") or len(ack) < 106:
        return problems
    term = ack[105]
    sep = ack[3]
    for raw in ack.split(term):
        seg = raw.strip().split(sep)
        if not seg or not seg[0]:
            continue
        if (
            seg[0] in ("IK3", "IK4", "CTX")
            or (seg[0] == "IK5" and seg[1] != "A")
            or (seg[0] == "AK9" and seg[1] != "A")
        ):
            problems.append("999 " + sep.join(seg))
    return problems


def _functional_id(text: str) -> str:
    """GS01 of the first functional group ("" when it cannot be found)."""
    head = text.lstrip()
    if len(head) < 106:
        return ""
    sep, term = head[3], head[105]
    rest = head[106:].lstrip()
    if rest.startswith("GS" + sep):
        return rest.split(term, 1)[0].split(sep)[1]
    return ""


def validate_x12(text: str) -> ValidationResult:
    """Run pyx12 over ``text`` (an 837P, 835, 999, ...; pyx12 picks the map from GS08).

    Returns ``ValidationResult(ok, errors, ack)``: ``ok`` is True only when pyx12 accepted the file
    and reported no error or warning — not in its log, its JSON tree or its 999.
    """
    import pyx12.params
    import pyx12.x12n_document

    logger = logging.getLogger("pyx12")
    capture = _Capture()
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    logger.addHandler(capture)
    ack, js = io.StringIO(), io.StringIO()
    # pyx12 quirk: its 999 generator needs ST03 to name the guide, and the 5010 835 leaves ST03
    # out ("not used"), so building a 999 for an 835 always fails with "Failed to create 999
    # response". For an 835 we skip the 999 and rely on the log and the JSON tree.
    want_ack = _functional_id(text) != "HP"
    try:
        ok = pyx12.x12n_document.x12n_document(
            param=pyx12.params.params(),
            src_file=io.StringIO(text),
            fd_997=ack if want_ack else None,
            fd_html=None,
            fd_json=js,
        )
    finally:
        logger.removeHandler(capture)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
    errors: list[str] = list(capture.messages)
    raw = js.getvalue()
    if raw.strip():
        try:
            _walk_json(json.loads(raw), "", errors)
        except json.JSONDecodeError as exc:
            errors.append(f"pyx12 wrote an unreadable JSON tree: {exc}")
    errors.extend(_ack_errors(ack.getvalue()))
    return ValidationResult(ok=bool(ok) and not errors, errors=errors, ack=ack.getvalue())
