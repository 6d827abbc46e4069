"""Read an 837P (005010X222A1) as the plan receiving it does: what an answer has to name.

Framework-free, like the rest of ``billing.x12``. It is not a validator (pyx12 and
``billing.x12.checks`` are); it takes from a sound file the facts a clearinghouse's 999, a payer's
277CA and its 835 echo back:

* the envelope: ISA05-08 (who sent it to whom), ISA13, GS02/GS03, GS04/GS05 (when it was
  written), GS06 (the group a 999 acknowledges);
* per transaction set its ST02 (the set a 999's AK2 names) and BHT03 (the batch reference a
  277CA repeats in TRN*2 at the information receiver level);
* the payer (NM1*PR: name and payer id);
* per claim (2300): CLM01 (our control number, echoed as 277CA TRN*2 and 835 CLP01), CLM02,
  CLM05 place of service and frequency, REF*F8 (the plan's claim number a replacement names),
  the billing provider above it (NM1*85: name, NPI), the subscriber (NM1*IL: name, member id),
  its ST02;
* per line (2400): SV101 code and modifiers, SV102 charge, SV104 units, DTP*472 (D8 or RD8) and
  REF*6R (the line control number an 835 echoes).

Raises ``X12ParseError`` for a file that is not an 837 or whose claims cannot be read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO

from billing.x12.common import SegmentReader, X12ParseError, element, parse_date, parse_decimal


@dataclass
class SentLine:
    """One service line as the plan received it."""

    procedure_code: str
    modifiers: tuple[str, ...]
    charge: Decimal
    units: Decimal
    service_date: dt.date | None = None
    service_date_end: dt.date | None = None
    line_control_number: str = ""


@dataclass
class SentClaim:
    """One claim (2300 loop) as the plan received it."""

    control_number: str
    charge: Decimal
    place_of_service: str
    frequency: str
    set_control_number: str
    provider_npi: str
    provider_name: str
    member_id: str
    last_name: str
    first_name: str
    original_claim_number: str = ""  # REF*F8 on a replacement or void
    lines: list[SentLine] = field(default_factory=list)

    @property
    def first_date(self) -> dt.date | None:
        dates = [ln.service_date for ln in self.lines if ln.service_date]
        return min(dates) if dates else None

    @property
    def last_date(self) -> dt.date | None:
        dates = [ln.service_date_end or ln.service_date for ln in self.lines if ln.service_date]
        return max(dates) if dates else None


@dataclass
class Sent837:
    """An 837P interchange as the plan received it (one functional group, as we write them)."""

    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    interchange_control_number: int
    usage: str
    group_sender: str
    group_receiver: str
    created: dt.datetime
    group_control_number: int
    batch_reference: str
    payer_name: str = ""
    payer_id: str = ""
    set_control_numbers: list[str] = field(default_factory=list)
    claims: list[SentClaim] = field(default_factory=list)


def _date(value: str, n: int, what: str) -> dt.date:
    return parse_date(value, segment_number=n, segment_id="DTP", what=what)


def read_837(source: str | IO[str]) -> Sent837:
    """The facts of an 837P an answer names (module docstring). Raises ``X12ParseError``."""
    reader = SegmentReader(source)
    isa: list[str] = []
    sent: Sent837 | None = None
    st02 = ""
    provider = ("", "")  # (NPI, name) of the current 2010AA billing provider
    subscriber = ("", "", "")  # (member id, last, first) of the current 2010BA subscriber
    claim: SentClaim | None = None
    line: SentLine | None = None
    for seg in reader:
        tag, n = seg[0], reader.count
        if tag == "ISA":
            isa = seg
        elif tag == "GS":
            if element(seg, 1) != "HC":
                raise X12ParseError(
                    f"GS01 {element(seg, 1)!r} is not HC: this is not an 837 claim file",
                    segment_number=n,
                    segment_id="GS",
                )
            if not element(seg, 6).isdigit():
                raise X12ParseError("GS06 is not a group control number", segment_number=n, segment_id="GS")
            day, time = element(seg, 4), element(seg, 5)
            created = dt.datetime.combine(
                parse_date(day, segment_number=n, segment_id="GS", what="GS04"),
                dt.time(int(time[:2] or 0), int(time[2:4] or 0)) if time[:4].isdigit() else dt.time(),
            )
            sent = Sent837(
                sender_qualifier=element(isa, 5),
                sender_id=element(isa, 6).strip(),
                receiver_qualifier=element(isa, 7),
                receiver_id=element(isa, 8).strip(),
                interchange_control_number=int(element(isa, 13) or 0),
                usage=element(isa, 15),
                group_sender=element(seg, 2),
                group_receiver=element(seg, 3),
                created=created,
                group_control_number=int(element(seg, 6)),
                batch_reference="",
            )
        elif sent is None:
            if tag not in ("IEA",):
                raise X12ParseError(f"{tag} before the GS of an 837", segment_number=n, segment_id=tag)
        elif tag == "ST":
            if element(seg, 1) != "837":
                raise X12ParseError(f"ST01 {element(seg, 1)!r} is not 837", segment_number=n, segment_id="ST")
            st02 = element(seg, 2)
            sent.set_control_numbers.append(st02)
            claim = line = None
        elif tag == "BHT":
            sent.batch_reference = sent.batch_reference or element(seg, 3)
        elif tag == "HL":
            claim = line = None
        elif tag == "NM1":
            entity = element(seg, 1)
            if entity == "85":
                provider = (element(seg, 9), element(seg, 3))
            elif entity == "IL":
                subscriber = (element(seg, 9), element(seg, 3), element(seg, 4))
            elif entity == "PR" and not sent.payer_id:
                sent.payer_name, sent.payer_id = element(seg, 3), element(seg, 9)
        elif tag == "CLM":
            composite = element(seg, 5).split(reader.delimiters.component if reader.delimiters else ":")
            claim = SentClaim(
                control_number=element(seg, 1),
                charge=parse_decimal(element(seg, 2), segment_number=n, segment_id="CLM", what="CLM02"),
                place_of_service=composite[0],
                frequency=composite[2] if len(composite) > 2 else "1",
                set_control_number=st02,
                provider_npi=provider[0],
                provider_name=provider[1],
                member_id=subscriber[0],
                last_name=subscriber[1],
                first_name=subscriber[2],
            )
            sent.claims.append(claim)
            line = None
        elif claim is None:
            continue
        elif tag == "REF" and line is None and element(seg, 1) == "F8":
            claim.original_claim_number = element(seg, 2)
        elif tag == "SV1":
            parts = element(seg, 1).split(reader.delimiters.component if reader.delimiters else ":")
            units = element(seg, 4)
            line = SentLine(
                procedure_code=parts[1] if len(parts) > 1 else "",
                modifiers=tuple(m for m in parts[2:6] if m),
                charge=parse_decimal(element(seg, 2), segment_number=n, segment_id="SV1", what="SV102"),
                units=parse_decimal(units, segment_number=n, segment_id="SV1", what="SV104")
                if units
                else Decimal(1),
            )
            claim.lines.append(line)
        elif tag == "DTP" and line is not None and element(seg, 1) == "472":
            value = element(seg, 3)
            if element(seg, 2) == "RD8" and "-" in value:
                start, end = value.split("-", 1)
                line.service_date, line.service_date_end = _date(start, n, "DTP03"), _date(end, n, "DTP03")
            else:
                line.service_date = _date(value, n, "DTP03")
        elif tag == "REF" and line is not None and element(seg, 1) == "6R":
            line.line_control_number = element(seg, 2)
    if sent is None:
        raise X12ParseError("the file holds no functional group", segment_number=reader.count)
    if not sent.claims:
        raise X12ParseError("the 837 holds no claim (CLM)", segment_number=reader.count)
    for c in sent.claims:
        if not c.lines:
            raise X12ParseError(f"claim {c.control_number} has no service line (SV1)")
    return sent
