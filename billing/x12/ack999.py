"""X12 999 implementation acknowledgment (005010X231A1): parser and a writer for tests.

Rules:

* One ``Ack999`` per AK1 (the functional group acknowledged: AK101 functional id, AK102 its GS06,
  AK103 its version) with one ``SetAck`` per AK2 (AK202 = the ST02 of our 837 set).
* IK5 gives each set's verdict: A accepted, E accepted with errors noted, M/R/W/X rejected.
  ``SetAck.accepted`` is True for A and E. Every claim of a rejected set must be fixed and re-sent:
  ``Write837Result.claim_sets`` maps claims to sets.
* IK3 (segment error: id, position in the set, loop, code) with its CTX context (CTX*CLM01:<claim>
  names the claim) and IK4 (element error: position, data element number, code, bad value) become
  ``SegmentError``/``ElementError`` and readable sentences (``SetAck.messages()``).
* AK9 gives the group verdict: A, E, P (partially accepted), R, ...; with sets included/received/
  accepted counts. Where AK9 and the IK5s disagree (IK5*R under AK9*A, ...) ``contradictions()``
  says so; each set is treated as its own IK5 says.
* SE/GE/IEA counts and control numbers are checked (``TrailerCounts``).
* Garbage or a non-999 raises ``X12ParseError`` naming the segment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

from billing.x12.common import (
    Envelope,
    SegmentReader,
    TrailerCounts,
    X12InputError,
    X12ParseError,
    gs_segment,
)

VERSION = "005010X231A1"

SEGMENT_ERRORS = {
    "1": "Unrecognized segment ID",
    "2": "Unexpected segment",
    "3": "Required segment missing",
    "4": "Loop occurs over maximum times",
    "5": "Segment exceeds maximum use",
    "6": "Segment not in defined transaction set",
    "7": "Segment not in proper sequence",
    "8": "Segment has data element errors",
    "I4": "Implementation 'not used' segment present",
    "I6": "Implementation dependent segment missing",
    "I7": "Implementation loop occurs under minimum times",
    "I8": "Implementation segment below minimum use",
    "I9": "Implementation dependent 'not used' segment present",
}
ELEMENT_ERRORS = {
    "1": "Required data element missing",
    "2": "Conditional required data element missing",
    "3": "Too many data elements",
    "4": "Data element too short",
    "5": "Data element too long",
    "6": "Invalid character in data element",
    "7": "Invalid code value",
    "8": "Invalid date",
    "9": "Invalid time",
    "10": "Exclusion condition violated",
    "12": "Too many repetitions",
    "13": "Too many components",
    "I6": "Code value not used in implementation",
    "I9": "Implementation dependent data element missing",
    "I10": "Implementation 'not used' data element present",
    "I11": "Implementation too few repetitions",
    "I12": "Implementation pattern match failure",
    "I13": "Implementation dependent 'not used' data element present",
}
SET_ERRORS = {
    "1": "Transaction set not supported",
    "2": "Transaction set trailer missing",
    "3": "Transaction set control number in header and trailer do not match",
    "4": "Number of included segments does not match actual count",
    "5": "One or more segments in error",
    "6": "Missing or invalid transaction set identifier",
    "7": "Missing or invalid transaction set control number",
    "23": "Transaction set control number not unique within the functional group",
    "I5": "Implementation: one or more segments in error",
    "I6": "Implementation convention not supported",
}
SET_STATUSES = {
    "A": "accepted",
    "E": "accepted with errors noted",
    "M": "rejected (message authentication code failed)",
    "R": "rejected",
    "W": "rejected (assurance failed validity tests)",
    "X": "rejected (content after decryption could not be analyzed)",
}
GROUP_STATUSES = {**SET_STATUSES, "P": "partially accepted (at least one set rejected)"}


@dataclass(frozen=True)
class ElementError:
    """IK4: the element in error (IK401 position, e.g. ``5`` or ``5:3``), its data element number,
    the error code and the bad value when the sender echoed it."""

    position: str
    element_reference: str
    code: str
    bad_value: str = ""
    context: tuple[str, ...] = ()

    def describe(self) -> str:
        """A readable sentence for this element error."""
        text = f"element {self.position}"
        if self.element_reference:
            text += f" (data element {self.element_reference})"
        text += f": {ELEMENT_ERRORS.get(self.code, 'error code ' + self.code)}"
        if self.bad_value:
            text += f" — value {self.bad_value!r}"
        return text


@dataclass(frozen=True)
class SegmentError:
    """IK3: the segment in error (id, position in the transaction set, loop id, code), the claim it
    belongs to (CTX*CLM01:...) when given, other CTX contexts and its element errors."""

    segment_id: str
    position: int
    code: str
    loop_id: str = ""
    claim_control_number: str = ""
    contexts: tuple[str, ...] = ()
    elements: tuple[ElementError, ...] = ()

    def describe(self) -> str:
        """A readable sentence for this segment error and its element errors."""
        text = f"{self.segment_id} segment #{self.position}"
        if self.loop_id:
            text += f" in loop {self.loop_id}"
        if self.claim_control_number:
            text += f" (claim {self.claim_control_number})"
        text += f": {SEGMENT_ERRORS.get(self.code, 'error code ' + self.code)}"
        for item in self.elements:
            text += f"; {item.describe()}"
        return text


@dataclass(frozen=True)
class SetAck:
    """AK2 ... IK5: the verdict on one transaction set we sent (``control_number`` = our ST02)."""

    transaction_set_id: str
    control_number: str
    status: str
    implementation_reference: str = ""
    error_codes: tuple[str, ...] = ()
    segment_errors: tuple[SegmentError, ...] = ()

    @property
    def accepted(self) -> bool:
        """A (accepted) or E (accepted, errors noted)."""
        return self.status in ("A", "E")

    def messages(self) -> list[str]:
        """Readable sentences: the verdict, its codes, then every segment/element error."""
        head = f"transaction set {self.transaction_set_id} {self.control_number}: {SET_STATUSES.get(self.status, self.status)}"
        if self.error_codes:
            head += " — " + "; ".join(SET_ERRORS.get(c, "error code " + c) for c in self.error_codes)
        return [head] + [
            f"transaction set {self.control_number}: {e.describe()}" for e in self.segment_errors
        ]


@dataclass(frozen=True)
class Ack999:
    """One AK1 ... AK9 block: the acknowledgement of one of our functional groups."""

    functional_id: str
    group_control_number: str
    version: str
    status: str
    sets_included: int
    sets_received: int
    sets_accepted: int
    sets: tuple[SetAck, ...] = ()
    error_codes: tuple[str, ...] = ()
    interchange_control_number: str = ""

    @property
    def accepted_control_numbers(self) -> list[str]:
        """ST02 of every set accepted (A or E)."""
        return [s.control_number for s in self.sets if s.accepted]

    @property
    def rejected_control_numbers(self) -> list[str]:
        """ST02 of every set rejected."""
        return [s.control_number for s in self.sets if not s.accepted]

    def set_for(self, control_number: str) -> SetAck | None:
        """The verdict on our set ``control_number`` (ST02), if this 999 mentions it."""
        for item in self.sets:
            if item.control_number == control_number:
                return item
        return None

    def contradictions(self) -> list[str]:
        """Where the 999 disagrees with itself, in words: AK9 says the group was accepted while an
        IK5 rejects a set (or rejected while every set is accepted), or AK904 counts a different
        number of accepted sets than the IK5s when every set received is listed. The sets' own
        IK5 verdicts are what we apply."""
        out = []
        rejected = self.rejected_control_numbers
        accepted = self.accepted_control_numbers
        if self.status in ("A", "E") and rejected:
            out.append(
                f"functional group {self.group_control_number}: AK9 says {self.status} (accepted) but IK5 "
                f"rejects transaction set(s) {', '.join(rejected)}; each set is treated as its IK5 says"
            )
        if self.status == "R" and accepted and not rejected:
            out.append(
                f"functional group {self.group_control_number}: AK9 says R (rejected) but IK5 accepts every "
                f"set listed ({', '.join(accepted)}); each set is treated as its IK5 says"
            )
        if len(self.sets) == self.sets_received and self.sets_accepted != len(accepted):
            out.append(
                f"functional group {self.group_control_number}: AK904 counts {self.sets_accepted} accepted "
                f"sets but the IK5s accept {len(accepted)}"
            )
        return out

    def messages(self) -> list[str]:
        """Readable sentences for the group and each set."""
        out = [
            f"functional group {self.group_control_number}: {GROUP_STATUSES.get(self.status, self.status)} "
            f"({self.sets_accepted} of {self.sets_received} transaction sets accepted)"
        ]
        for item in self.sets:
            out.extend(item.messages())
        return out


def _el(seg: list[str], index: int) -> str:
    return seg[index] if index < len(seg) else ""


def parse_999(source: str | IO[str]) -> list[Ack999]:
    """Parse a 999 into one ``Ack999`` per AK1. Raises ``X12ParseError`` naming the segment when
    the text is not a 999 or its segments are out of order."""
    reader = SegmentReader(source)
    out: list[Ack999] = []
    isa13 = ""
    ak1: list[str] | None = None
    sets: list[SetAck] = []
    ak2: list[str] | None = None
    seg_errors: list[SegmentError] = []
    ik3: list[str] | None = None
    ik3_ctx: list[str] = []
    ik4s: list[ElementError] = []
    ik4: list[str] | None = None
    ik4_ctx: list[str] = []
    component = ":"
    seen_st = False

    def err(message: str) -> X12ParseError:
        return X12ParseError(message, segment_number=reader.count, segment_id=seg[0])

    def close_ik4() -> None:
        nonlocal ik4, ik4_ctx
        if ik4 is not None:
            ik4s.append(ElementError(_el(ik4, 1), _el(ik4, 2), _el(ik4, 3), _el(ik4, 4), tuple(ik4_ctx)))
        ik4, ik4_ctx = None, []

    def close_ik3() -> None:
        nonlocal ik3, ik3_ctx, ik4s
        close_ik4()
        if ik3 is not None:
            claim = ""
            contexts = []
            for ctx in ik3_ctx:
                first = ctx.split(component)
                if first[0] == "CLM01" and len(first) > 1:
                    claim = first[1]
                else:
                    contexts.append(ctx)
            position = _el(ik3, 2)
            seg_errors.append(
                SegmentError(
                    _el(ik3, 1),
                    int(position) if position.isdigit() else 0,
                    _el(ik3, 4),
                    _el(ik3, 3),
                    claim,
                    tuple(contexts),
                    tuple(ik4s),
                )
            )
        ik3, ik3_ctx, ik4s = None, [], []

    trailers = TrailerCounts()
    for seg in reader:
        tag = seg[0]
        trailers.see(seg, reader.count)
        if tag == "ISA":
            isa13 = _el(seg, 13)
            if reader.delimiters is not None:
                component = reader.delimiters.component
        elif tag == "GS":
            if _el(seg, 1) != "FA":
                raise err(f"GS01 {_el(seg, 1)!r} is not FA: this is not a 999 acknowledgement")
        elif tag == "ST":
            if _el(seg, 1) != "999":
                raise err(f"ST01 {_el(seg, 1)!r} is not 999")
            seen_st = True
        elif tag == "AK1":
            if not seen_st:
                raise err("AK1 before ST")
            ak1, sets = seg, []
        elif tag == "AK2":
            if ak1 is None:
                raise err("AK2 before AK1")
            ak2, seg_errors = seg, []
        elif tag == "IK3":
            if ak2 is None:
                raise err("IK3 outside an AK2 transaction set response")
            close_ik3()
            ik3 = seg
        elif tag == "IK4":
            if ik3 is None:
                raise err("IK4 outside an IK3 segment error")
            close_ik4()
            ik4 = seg
        elif tag == "CTX":
            text = (reader.delimiters.element if reader.delimiters else "*").join(seg[1:])
            if ik4 is not None:
                ik4_ctx.append(text)
            elif ik3 is not None:
                ik3_ctx.append(text)
        elif tag == "IK5":
            if ak2 is None:
                raise err("IK5 without AK2")
            close_ik3()
            status = _el(seg, 1)
            if status not in SET_STATUSES:
                raise err(f"IK501 {status!r} is not a set acknowledgment code")
            sets.append(
                SetAck(
                    _el(ak2, 1),
                    _el(ak2, 2),
                    status,
                    _el(ak2, 3),
                    tuple(c for c in seg[2:] if c),
                    tuple(seg_errors),
                )
            )
            ak2 = None
        elif tag == "AK9":
            if ak1 is None:
                raise err("AK9 without AK1")
            if ak2 is not None:
                raise err("AK9 before the IK5 of the last AK2")
            status = _el(seg, 1)
            if status not in GROUP_STATUSES:
                raise err(f"AK901 {status!r} is not a group acknowledgment code")
            counts = []
            for index in (2, 3, 4):
                if not _el(seg, index).isdigit():
                    raise err(f"AK9{index:02d} {_el(seg, index)!r} is not a count")
                counts.append(int(_el(seg, index)))
            out.append(
                Ack999(
                    _el(ak1, 1),
                    _el(ak1, 2),
                    _el(ak1, 3),
                    status,
                    counts[0],
                    counts[1],
                    counts[2],
                    tuple(sets),
                    tuple(c for c in seg[5:] if c),
                    isa13,
                )
            )
            ak1 = None
        elif tag in ("SE", "GE", "IEA", "TA1"):
            pass
        else:
            raise err(f"unexpected segment {tag!r} in a 999")
    if ak1 is not None:
        raise X12ParseError("the 999 ends before its AK9 segment", segment_number=reader.count)
    if not out:
        raise X12ParseError(
            "the 999 acknowledges no functional group (no AK1/AK9)", segment_number=reader.count
        )
    return out


@dataclass(frozen=True)
class AckRequest:
    """What a test 999 should say about one acknowledged functional group."""

    group_control_number: int
    set_control_numbers: Sequence[str]
    rejected: Mapping[str, Sequence[SegmentError]] = field(default_factory=dict)
    functional_id: str = "HC"
    version: str = "005010X222A1"
    transaction_set_id: str = "837"


def _ik_segments(error: SegmentError) -> list[str]:
    out = [f"IK3*{error.segment_id}*{error.position}*{error.loop_id}*{error.code}"]
    if error.claim_control_number:
        out.append(f"CTX*CLM01:{error.claim_control_number}")
    for item in error.elements:
        out.append(f"IK4*{item.position}*{item.element_reference}*{item.code}*{item.bad_value}".rstrip("*"))
    return out


def render_999(
    envelope: Envelope,
    requests: Iterable[AckRequest],
    *,
    group_control_number: int = 1,
    set_control_number: str = "0001",
) -> str:
    """A 999 (one ST) acknowledging each requested group: sets listed in ``rejected`` get IK5*R*5
    (with their IK3/IK4 errors), the others IK5*A; AK9 is A, P or R accordingly."""
    body = [f"ST*999*{set_control_number}*{VERSION}"]
    for request in requests:
        unknown = set(request.rejected) - set(request.set_control_numbers)
        if unknown:
            raise X12InputError(f"rejected sets {sorted(unknown)} are not among the acknowledged sets")
        body.append(f"AK1*{request.functional_id}*{request.group_control_number}*{request.version}")
        accepted = 0
        for st02 in request.set_control_numbers:
            body.append(f"AK2*{request.transaction_set_id}*{st02}*{request.version}")
            if st02 in request.rejected:
                for error in request.rejected[st02]:
                    body.extend(_ik_segments(error))
                body.append("IK5*R*5")
            else:
                body.append("IK5*A")
                accepted += 1
        total = len(request.set_control_numbers)
        status = "A" if accepted == total else ("R" if accepted == 0 else "P")
        body.append(f"AK9*{status}*{total}*{total}*{accepted}")
    body.append(f"SE*{len(body) + 1}*{set_control_number}")
    segments = [
        envelope.isa(),
        gs_segment(
            "FA", envelope.sender_id, envelope.receiver_id, envelope.created, group_control_number, VERSION
        ),
        *body,
        f"GE*1*{group_control_number}",
        envelope.iea(1),
    ]
    return "~".join(segments) + "~"
