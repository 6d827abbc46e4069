"""Our own checks on any 837P text, for the rules pyx12 does not check.

``check_837(text)`` returns human-readable problems (an empty list means clean):

* CLM02 equals the sum of the claim's SV102 line charges.
* Every NPI sent with qualifier XX (NM1*85 billing provider and any other NM1 ... XX) passes the
  Luhn check digit over 80840 + the first nine digits.
* Every diagnosis pointer in SV107 points at an existing code of the claim's HI segment(s).
* REF*F8 (payer claim number) is present on frequency 7 and 8 claims and absent on frequency 1.
* A claim has 1-50 service lines and 1-12 diagnosis codes.
* SE01 equals the number of segments from ST to SE, SE02 = ST02; GE01 equals the number of
  transaction sets, GE02 = GS06; IEA01 equals the number of functional groups, IEA02 = ISA13.
* CLM01 is unique within the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO

from billing.x12 import ids
from billing.x12.common import SegmentReader, X12ParseError

_DX_QUALIFIERS = frozenset({"ABK", "ABF", "BK", "BF"})


@dataclass
class _ClaimState:
    control: str
    segment_number: int
    charge: Decimal | None
    frequency: str
    dx_count: int = 0
    line_total: Decimal = Decimal(0)
    line_count: int = 0
    has_f8: bool = False
    pointers: list[tuple[int, int, str]] = field(default_factory=list)  # (line, segment no., pointer)


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def check_837(source: str | IO[str]) -> list[str]:
    """Check an 837P (string or text file) and return every problem found, in file order.

    A file that cannot even be tokenized gives a single problem naming why.
    """
    problems: list[str] = []
    reader = SegmentReader(source)
    seen_claims: dict[str, int] = {}
    claim: _ClaimState | None = None
    isa13 = ""
    group_count = 0
    gs06 = ""
    set_count = 0
    st02 = ""
    st_start = 0
    component = ":"

    def close_claim() -> None:
        nonlocal claim
        if claim is None:
            return
        c = claim
        where = f"claim {c.control} (segment {c.segment_number})"
        if c.charge is not None and c.charge != c.line_total:
            problems.append(
                f"{where}: CLM02 total charge {c.charge} does not equal the sum of its lines' SV102 ({c.line_total})"
            )
        if c.line_count == 0:
            problems.append(f"{where}: has no service lines")
        elif c.line_count > 50:
            problems.append(f"{where}: has {c.line_count} service lines; at most 50 are allowed")
        if c.dx_count == 0:
            problems.append(f"{where}: has no diagnosis codes (HI)")
        elif c.dx_count > 12:
            problems.append(f"{where}: has {c.dx_count} diagnosis codes; at most 12 are allowed")
        if c.frequency in ("7", "8") and not c.has_f8:
            problems.append(
                f"{where}: frequency {c.frequency} (replacement/void) needs REF*F8 with the payer's claim number"
            )
        if c.frequency == "1" and c.has_f8:
            problems.append(f"{where}: an original claim (frequency 1) must not carry REF*F8")
        for line_no, seg_no, pointer in c.pointers:
            if not pointer.isdigit() or not 1 <= int(pointer) <= c.dx_count:
                problems.append(
                    f"{where} line {line_no} (segment {seg_no}): diagnosis pointer {pointer!r} does not point "
                    f"at one of the claim's {c.dx_count} diagnosis code(s)"
                )
        claim = None

    try:
        for seg in reader:
            n = reader.count
            tag = seg[0]
            if tag == "ISA":
                isa13 = seg[13] if len(seg) > 13 else ""
                if reader.delimiters is not None:
                    component = reader.delimiters.component
            elif tag == "GS":
                group_count += 1
                gs06 = seg[6] if len(seg) > 6 else ""
                set_count = 0
            elif tag == "ST":
                set_count += 1
                st02 = seg[2] if len(seg) > 2 else ""
                st_start = n
            elif tag == "NM1":
                if len(seg) > 9 and seg[8] == "XX":
                    problem = ids.npi_problem(seg[9])
                    if problem:
                        problems.append(f"segment {n} (NM1*{seg[1]}): {problem}")
            elif tag == "HL":
                close_claim()
            elif tag == "CLM":
                close_claim()
                control = seg[1] if len(seg) > 1 else ""
                charge = _decimal(seg[2]) if len(seg) > 2 else None
                if charge is None:
                    problems.append(
                        f"segment {n} (CLM {control}): CLM02 {seg[2] if len(seg) > 2 else ''!r} is not an amount"
                    )
                parts = seg[5].split(component) if len(seg) > 5 else []
                frequency = parts[2] if len(parts) > 2 else ""
                if frequency not in ("1", "7", "8"):
                    problems.append(
                        f"segment {n} (CLM {control}): claim frequency {frequency!r} is not 1, 7 or 8"
                    )
                if control in seen_claims:
                    problems.append(
                        f"segment {n}: claim control number {control} (CLM01) already used at segment {seen_claims[control]}"
                    )
                else:
                    seen_claims[control] = n
                claim = _ClaimState(control, n, charge, frequency)
            elif (
                claim is not None
                and tag == "REF"
                and len(seg) > 2
                and seg[1] == "F8"
                and claim.line_count == 0
            ):
                claim.has_f8 = bool(seg[2])
            elif claim is not None and tag == "HI":
                for composite in seg[1:]:
                    if composite.split(component)[0] in _DX_QUALIFIERS:
                        claim.dx_count += 1
            elif claim is not None and tag == "SV1":
                claim.line_count += 1
                amount = _decimal(seg[2]) if len(seg) > 2 else None
                if amount is None:
                    problems.append(f"segment {n} (claim {claim.control} SV1): SV102 is not an amount")
                else:
                    claim.line_total += amount
                pointers = seg[7].split(component) if len(seg) > 7 and seg[7] else []
                if not pointers:
                    problems.append(f"segment {n} (claim {claim.control} SV1): no diagnosis pointer")
                for pointer in pointers:
                    claim.pointers.append((claim.line_count, n, pointer))
            elif tag == "SE":
                close_claim()
                expected = n - st_start + 1
                if (seg[1] if len(seg) > 1 else "") != str(expected):
                    problems.append(
                        f"segment {n}: SE01 says {seg[1] if len(seg) > 1 else ''!r} segments but the set ST{st02} has {expected}"
                    )
                if (seg[2] if len(seg) > 2 else "") != st02:
                    problems.append(
                        f"segment {n}: SE02 {seg[2] if len(seg) > 2 else ''!r} does not match ST02 {st02!r}"
                    )
            elif tag == "GE":
                if (seg[1] if len(seg) > 1 else "") != str(set_count):
                    problems.append(
                        f"segment {n}: GE01 says {seg[1] if len(seg) > 1 else ''!r} transaction sets but group {gs06} has {set_count}"
                    )
                if (seg[2] if len(seg) > 2 else "") != gs06:
                    problems.append(
                        f"segment {n}: GE02 {seg[2] if len(seg) > 2 else ''!r} does not match GS06 {gs06!r}"
                    )
            elif tag == "IEA":
                if (seg[1] if len(seg) > 1 else "") != str(group_count):
                    problems.append(
                        f"segment {n}: IEA01 says {seg[1] if len(seg) > 1 else ''!r} functional groups but the file has {group_count}"
                    )
                if (seg[2] if len(seg) > 2 else "") != isa13:
                    problems.append(
                        f"segment {n}: IEA02 {seg[2] if len(seg) > 2 else ''!r} does not match ISA13 {isa13!r}"
                    )
    except X12ParseError as exc:
        problems.append(f"not a readable X12 file: {exc}")
    close_claim()
    return problems
