"""X12 277CA health care claim acknowledgment (005010X214) and TA1 interchange acknowledgment:
parsers, and writers for tests.

Rules:

* A 277CA (GS01 HN, ST01 277, version 005010X214) is a hierarchy: HL 20 information source
  (the payer or clearinghouse), HL 21 information receiver (us, the submitter), HL 19 billing
  provider (NM1*85, NPI in NM109), HL PT patient = one claim. Each claim carries TRN*2 = our
  CLM01 (the claim's control number), one or more STC segments (STC01 = category : status :
  entity composite, STC10/STC11 further composites), REF*1K the payer's claim number and REF*D9
  the clearinghouse's trace number; SVC/STC/REF*FJ give line-level statuses.
* A claim is accepted or rejected by the outcome of its first STC's category (the data table in
  ``billing.x12.claimstatus``): A1/A2/A5 accepted, A3/A4/A6/A7/A8 rejected, others pending. Every
  composite of every STC becomes a reason in words with its fix.
* TA1 (interchange acknowledgment; alone between ISA and IEA, or before the GS of a 999) answers
  one of our interchanges by TA101 = its ISA13: TA104 A accepted, E accepted with errors, R
  rejected; TA105 the note code in words.
* SE/GE/IEA counts are checked (``TrailerCounts``); anything else out of order raises
  ``X12ParseError`` naming the segment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

from billing.x12 import claimstatus
from billing.x12.common import (
    Envelope,
    SegmentReader,
    TrailerCounts,
    X12ParseError,
    clean_text,
    element,
    fmt_date,
    fmt_time,
    gs_segment,
)

VERSION = "005010X214"


@dataclass(frozen=True)
class StatusReason:
    """One STC composite: category, status code, entity, and the same in words with its fix."""

    category: str
    status: str
    entity: str = ""

    @property
    def outcome(self) -> str:
        return claimstatus.category(self.category).outcome

    def describe(self) -> tuple[str, str]:
        return claimstatus.describe(self.category, self.status, self.entity)


@dataclass(frozen=True)
class ClaimAck:
    """The payer's or clearinghouse's verdict on one claim (HL PT)."""

    control_number: str  # TRN02 = our CLM01
    reasons: tuple[StatusReason, ...]
    payer_claim_number: str = ""  # REF*1K
    clearinghouse_trace: str = ""  # REF*D9
    provider_npi: str = ""  # NM109 of the HL 19 above it
    charge: str = ""  # STC04
    status_date: str = ""  # STC02
    line_reasons: tuple[tuple[str, StatusReason], ...] = ()  # (line control number or code, reason)

    @property
    def outcome(self) -> str:
        """accepted, rejected or pending: the first STC's category decides."""
        return self.reasons[0].outcome if self.reasons else "pending"

    def messages(self) -> list[str]:
        """Every reason in words (claim level, then line level), each with its fix."""
        out = []
        for reason in self.reasons:
            text, fix = reason.describe()
            out.append(f"{text} Fix: {fix}")
        for line, reason in self.line_reasons:
            text, fix = reason.describe()
            out.append(f"line {line}: {text} Fix: {fix}")
        return out


@dataclass(frozen=True)
class Ack277:
    """One 277CA transaction set."""

    set_control_number: str
    batch_reference: str  # TRN02 at the information receiver level: our BHT03
    claims: tuple[ClaimAck, ...]
    interchange_control_number: str = ""


@dataclass(frozen=True)
class Ta1:
    """A TA1: the verdict on one of our interchanges (TA101 = our ISA13)."""

    interchange_control_number: str
    date: str
    time: str
    status: str  # A, E or R
    note_code: str

    @property
    def accepted(self) -> bool:
        return self.status in ("A", "E")

    def message(self) -> str:
        verdict = {"A": "accepted", "E": "accepted with errors", "R": "rejected"}.get(
            self.status, self.status
        )
        note = claimstatus.ta1_note(self.note_code)
        return f"interchange {self.interchange_control_number}: {verdict} — {note.code} {note.description} {note.advice}"


def _composite(text: str, component: str) -> StatusReason | None:
    parts = text.split(component)
    if not parts or not parts[0]:
        return None
    return StatusReason(parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "")


def _stc(seg: list[str], component: str) -> list[StatusReason]:
    out = []
    for index in (1, 10, 11):
        reason = _composite(element(seg, index), component)
        if reason is not None:
            out.append(reason)
    return out


def parse_277ca(source: str | IO[str]) -> list[Ack277]:
    """Parse a 277CA into one ``Ack277`` per ST/SE (rules above)."""
    reader = SegmentReader(source)
    trailers = TrailerCounts()
    out: list[Ack277] = []
    claims: list[ClaimAck] = []
    claim: dict | None = None
    level = ""
    provider_npi = ""
    batch_reference = ""
    st02 = ""
    isa13 = ""
    component = ":"
    in_set = False
    line: str | None = None

    def err(message: str) -> X12ParseError:
        return X12ParseError(message, segment_number=reader.count, segment_id=seg[0])

    def close_claim() -> None:
        nonlocal claim, line
        if claim is not None:
            if not claim["control_number"]:
                raise X12ParseError(
                    "a 277CA claim (HL PT) has no TRN*2 claim control number",
                    segment_number=claim["at"],
                    segment_id="HL",
                )
            claim.pop("at")
            claims.append(
                ClaimAck(
                    reasons=tuple(claim.pop("reasons")),
                    line_reasons=tuple(claim.pop("lines")),
                    provider_npi=provider_npi,
                    **claim,
                )
            )
        claim, line = None, None

    for seg in reader:
        tag = seg[0]
        trailers.see(seg, reader.count)
        if tag == "ISA":
            isa13 = element(seg, 13)
            component = reader.delimiters.component if reader.delimiters else ":"
        elif tag == "GS":
            if element(seg, 1) != "HN":
                raise err(f"GS01 {element(seg, 1)!r} is not HN: this is not a 277CA claim acknowledgment")
            if not element(seg, 8).startswith("005010X214"):
                raise err(f"this is {element(seg, 8) or 'an unnamed version'} (GS08); we read {VERSION}")
        elif tag == "ST":
            if element(seg, 1) != "277":
                raise err(f"ST01 {element(seg, 1)!r} is not 277")
            st02, claims, batch_reference, in_set, level = element(seg, 2), [], "", True, ""
        elif not in_set and tag not in ("GE", "IEA", "TA1"):
            raise err(f"{tag} outside a 277 transaction set")
        elif tag == "BHT":
            pass
        elif tag == "HL":
            close_claim()
            level = element(seg, 3)
            if level not in ("20", "21", "19", "PT"):
                raise err(f"HL03 {level!r} is not a 277CA level (20, 21, 19 or PT)")
            if level == "19":
                provider_npi = ""
            if level == "PT":
                claim = {
                    "control_number": "",
                    "reasons": [],
                    "lines": [],
                    "payer_claim_number": "",
                    "clearinghouse_trace": "",
                    "charge": "",
                    "status_date": "",
                    "at": reader.count,
                }
        elif tag == "NM1":
            if level == "19" and element(seg, 1) == "85" and element(seg, 8) == "XX":
                provider_npi = element(seg, 9)
        elif tag == "TRN":
            if level == "21" and element(seg, 1) == "2":
                batch_reference = element(seg, 2)
            elif level == "PT" and claim is not None and element(seg, 1) == "2":
                claim["control_number"] = element(seg, 2)
        elif tag == "STC":
            reasons = _stc(seg, component)
            if not reasons:
                raise err("STC01 has no status category")
            if level == "PT" and claim is not None:
                if line is None:
                    claim["reasons"].extend(reasons)
                    claim["charge"] = claim["charge"] or element(seg, 4)
                    claim["status_date"] = claim["status_date"] or element(seg, 2)
                else:
                    claim["lines"].extend((line, r) for r in reasons)
        elif tag == "REF" and level == "PT" and claim is not None:
            if line is None and element(seg, 1) == "1K":
                claim["payer_claim_number"] = element(seg, 2)
            elif line is None and element(seg, 1) == "D9":
                claim["clearinghouse_trace"] = element(seg, 2)
            elif line is not None and element(seg, 1) == "FJ":
                # The line control number names the line better than its procedure code.
                claim["lines"] = [(element(seg, 2) if ln == line else ln, r) for ln, r in claim["lines"]]
                line = element(seg, 2)
        elif tag == "SVC" and level == "PT":
            parts = element(seg, 1).split(component)
            line = parts[1] if len(parts) > 1 else element(seg, 1)
        elif tag in ("DTP", "QTY", "AMT", "PER", "N3", "N4"):
            pass
        elif tag == "SE":
            close_claim()
            out.append(Ack277(st02, batch_reference, tuple(claims), isa13))
            in_set = False
        elif tag in ("GE", "IEA", "TA1"):
            pass
        else:
            raise err(f"unexpected segment {tag!r} in a 277CA")
    if in_set:
        raise X12ParseError("the 277CA ends before its SE segment", segment_number=reader.count)
    if not out:
        raise X12ParseError("the file holds no 277 transaction set", segment_number=reader.count)
    return out


def parse_ta1(source: str | IO[str]) -> list[Ta1]:
    """The TA1 segments of an interchange (a TA1 file, or the TA1 at the head of a 999)."""
    reader = SegmentReader(source)
    trailers = TrailerCounts()
    out: list[Ta1] = []
    for seg in reader:
        trailers.see(seg, reader.count)
        if seg[0] == "TA1":
            status = element(seg, 4)
            if status not in ("A", "E", "R"):
                raise X12ParseError(
                    f"TA104 {status!r} is not A, E or R", segment_number=reader.count, segment_id="TA1"
                )
            if not element(seg, 1).isdigit():
                raise X12ParseError(
                    f"TA101 {element(seg, 1)!r} is not an interchange control number",
                    segment_number=reader.count,
                    segment_id="TA1",
                )
            out.append(Ta1(element(seg, 1), element(seg, 2), element(seg, 3), status, element(seg, 5)))
        elif seg[0] not in ("ISA", "IEA", "GS", "GE", "ST", "SE") and not out:
            raise X12ParseError(
                f"unexpected segment {seg[0]!r} in a TA1 acknowledgment",
                segment_number=reader.count,
                segment_id=seg[0],
            )
    if not out:
        raise X12ParseError("the file holds no TA1 segment", segment_number=reader.count)
    return out


# --------------------------------------------------------------------------- writers (tests, fixtures)


@dataclass(frozen=True)
class ClaimVerdict:
    """What a test 277CA says about one claim."""

    control_number: str
    charge: str
    category: str = "A2"
    status: str = "20"
    entity: str = ""
    payer_claim_number: str = ""
    more: Sequence[tuple[str, str, str]] = field(default_factory=tuple)  # further (category, status, entity)
    # Optional facts of the claim as it was sent (a plan's 277CA names them): the billing provider
    # it goes under (else the call's), the patient (NM1*QC) and the service dates (DTP*472).
    provider_npi: str = ""
    provider_name: str = ""
    patient_last_name: str = ""
    patient_first_name: str = ""
    member_id: str = ""
    service_date: dt.date | None = None
    service_date_end: dt.date | None = None


def render_277ca(
    envelope: Envelope,
    *,
    batch_reference: str,
    provider_npi: str,
    provider_name: str,
    verdicts: Sequence[ClaimVerdict],
    group_control_number: int = 1,
    set_control_number: str = "0001",
) -> str:
    """A 277CA (one ST) from a clearinghouse to us about ``verdicts``: claims of the provider
    named by ``provider_npi``/``provider_name``, or each under the provider it names (one HL 19
    per provider, in first-seen order)."""
    day = fmt_date(envelope.created)
    accepted = [v for v in verdicts if claimstatus.category(v.category).outcome == "accepted"]
    rejected = [v for v in verdicts if v not in accepted]
    providers: dict[tuple[str, str], list[ClaimVerdict]] = {}
    for verdict in verdicts:
        key = (verdict.provider_npi or provider_npi, verdict.provider_name or provider_name)
        providers.setdefault(key, []).append(verdict)
    body = [
        f"ST*277*{set_control_number}*{VERSION}",
        f"BHT*0085*08*{batch_reference}*{day}*{fmt_time(envelope.created)}*TH",
        "HL*1**20*1",
        f"NM1*AY*2*{envelope.sender_id}*****46*{envelope.sender_id}",
        f"TRN*1*{batch_reference}",
        f"DTP*050*D8*{day}",
        f"DTP*009*D8*{day}",
        "HL*2*1*21*1",
        f"NM1*41*2*{envelope.receiver_id}*****46*{envelope.receiver_id}",
        f"TRN*2*{batch_reference}",
        f"STC*A1:19*{day}*WQ*0",
        f"QTY*90*{len(accepted)}",
        f"QTY*AA*{len(rejected)}",
    ]
    n = 2
    for (npi, name), claims in providers.items():
        n += 1
        provider_hl = n
        body += [
            f"HL*{provider_hl}*2*19*1",
            f"NM1*85*2*{clean_text(name, 60)}*****XX*{npi}",
            "TRN*1*0",
            "STC*A1:19**WQ*0",  # STC02 is not used at the provider level
        ]
        for verdict in claims:
            n += 1
            code = f"{verdict.category}:{verdict.status}" + (f":{verdict.entity}" if verdict.entity else "")
            more = "".join(f"*{c}:{s}" + (f":{e}" if e else "") for c, s, e in verdict.more[:2])
            stc = f"STC*{code}*{day}*{'WQ' if verdict in accepted else 'U'}*{verdict.charge}"
            if more:
                stc += "*****" + more
            last = clean_text(verdict.patient_last_name, 60) or "PATIENT"
            first = clean_text(verdict.patient_first_name, 35) or str(n)
            body += [
                f"HL*{n}*{provider_hl}*PT",
                f"NM1*QC*1*{last}*{first}****MI*{verdict.member_id or f'9{n:07d}A'}",
                f"TRN*2*{verdict.control_number}",
                stc,
            ]
            if verdict.payer_claim_number:
                body.append(f"REF*1K*{verdict.payer_claim_number}")
            start, end = verdict.service_date, verdict.service_date_end
            if start is not None and end is not None and end != start:
                body.append(f"DTP*472*RD8*{fmt_date(start)}-{fmt_date(end)}")
            else:
                body.append(f"DTP*472*D8*{fmt_date(start) if start else day}")
    body.append(f"SE*{len(body) + 1}*{set_control_number}")
    segments = [
        envelope.isa(),
        gs_segment(
            "HN", envelope.sender_id, envelope.receiver_id, envelope.created, group_control_number, VERSION
        ),
        *body,
        f"GE*1*{group_control_number}",
        envelope.iea(1),
    ]
    return "~\n".join(segments) + "~\n"


def render_ta1(
    envelope: Envelope, *, interchange_control_number: int, status: str, note_code: str = "000"
) -> str:
    """A TA1 alone in its interchange (IEA01 = 0 groups)."""
    when = envelope.created
    return (
        "~".join(
            [
                envelope.isa(),
                f"TA1*{interchange_control_number:09d}*{when.strftime('%y%m%d')}*{fmt_time(when)}*{status}*{note_code}",
                f"IEA*0*{envelope.interchange_control_number:09d}",
            ]
        )
        + "~"
    )
