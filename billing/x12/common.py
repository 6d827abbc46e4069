"""Shared X12 plumbing: delimiters, number/date formatting, the envelope and a streaming tokenizer.

Rules kept here (so every writer and parser applies them the same way):

* We write with segment terminator ``~``, element separator ``*``, component separator ``:`` and
  repetition separator ``^``. Parsers read the delimiters from the ISA segment instead of assuming them.
* Money and quantities are ``Decimal`` end to end and written as X12 ``R`` values: no exponent, no
  thousands separator, no trailing zeros (``125``, ``125.5``, ``125.25``, ``-3.1``).
* ISA fields have fixed widths (ISA02/04 10, ISA06/08 15, ISA13 9 digits, ...): we pad them.
* Free text (names, addresses) never carries a delimiter: writers replace them with a space.
  Identifiers with a delimiter are refused instead, because a silently changed id is worse.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO

SEGMENT_TERMINATOR = "~"
ELEMENT_SEPARATOR = "*"
COMPONENT_SEPARATOR = ":"
REPETITION_SEPARATOR = "^"
_DELIMITERS = frozenset("~*:^")
_TEXT_CLEAN_RE = re.compile(r"[~*:^\r\n\t]+")
_SPACES_RE = re.compile(r"\s{2,}")

ISA_LENGTH = 106  # "ISA" + 16 elements of fixed width + their separators + the terminator


class X12Error(ValueError):
    """Base of every error this package raises for bad input or a bad file."""


class X12ParseError(X12Error):
    """A file is not valid X12 (or not the transaction we expect).

    ``segment_number`` is 1-based within the file (ISA = 1) when known, so a user can find the spot.
    """

    def __init__(self, message: str, *, segment_number: int | None = None, segment_id: str | None = None):
        self.segment_number = segment_number
        self.segment_id = segment_id
        where = ""
        if segment_number is not None:
            where = f"segment {segment_number}" + (f" ({segment_id})" if segment_id else "") + ": "
        super().__init__(where + message)


class X12InputError(X12Error):
    """Data handed to a writer cannot be written as valid X12 (too many lines, bad NPI, ...)."""


# --------------------------------------------------------------------------- formatting


@functools.lru_cache(maxsize=8192)
def _fmt_decimal(value: Decimal) -> str:
    if not value.is_finite():
        raise X12InputError(f"{value!r} is not a finite number")
    if value == value.to_integral_value():
        return "0" if value == 0 else str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def fmt_decimal(value: Decimal | int) -> str:
    """Write a Decimal as an X12 ``R`` value: plain notation, no trailing zeros, ``-`` for negatives.

    Floats are refused: money is Decimal end to end. (Cached by value: equal values such as 125.5
    and 125.50 are written the same way, and amounts repeat a lot in a batch.)
    """
    if type(value) is Decimal:
        return _fmt_decimal(value)
    if isinstance(value, float):  # pragma: no cover - guarded by type hints too
        raise X12InputError(f"money and quantities must be Decimal, not float ({value!r})")
    if isinstance(value, int):
        return str(value)
    return _fmt_decimal(value)


@functools.lru_cache(maxsize=4096)
def fmt_date(value: dt.date) -> str:
    """CCYYMMDD (cached: a batch has few distinct dates)."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def fmt_time(value: dt.datetime | dt.time) -> str:
    """HHMM."""
    return f"{value.hour:02d}{value.minute:02d}"


def clean_text(value: str, max_length: int) -> str:
    """Free text for an element: delimiters and control characters become spaces, runs of spaces
    collapse, the result is stripped and cut to the element's maximum length."""
    text = _SPACES_RE.sub(" ", _TEXT_CLEAN_RE.sub(" ", value or "")).strip()
    return text[:max_length].rstrip()


# The X12 basic character set (uppercase letters, digits, space and these specials), less our
# delimiters * : ^ ~. Anything else is transliterated when it can be (accents dropped, ß → SS, curly
# quotes → straight) and otherwise dropped: payers' translators reject the rest (pyx12: IK4 code 6).
_NOT_BASIC_RE = re.compile(r"[^A-Z0-9 !\"&'()+,\-./;?=]")
_TRANSLITERATE = str.maketrans(
    {
        "ß": "SS",
        "Æ": "AE",
        "æ": "AE",
        "Œ": "OE",
        "œ": "OE",
        "Ø": "O",
        "ø": "O",
        "Đ": "D",
        "đ": "D",
        "Ł": "L",
        "ł": "L",
        "Þ": "TH",
        "þ": "TH",
        "‘": "'",
        "’": "'",
        "‚": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
    }
)


@functools.lru_cache(maxsize=65536)
def basic_text(value: str, max_length: int) -> str:
    """Free text for an 837 element in the X12 basic character set: ``Peña José`` → ``PENA JOSE``,
    ``Ste #300`` → ``STE 300``; then as ``clean_text`` (delimiters, runs of spaces, length).
    ``basic_text(v, n) != clean_text(v, n).upper()`` tells the scrubber a field changed."""
    text = value or ""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE))
        text = "".join(c for c in text if not unicodedata.combining(c))
    return clean_text(_NOT_BASIC_RE.sub(" ", text.upper()), max_length)


def check_id(value: str, what: str, *, min_length: int = 1, max_length: int = 80) -> str:
    """An identifier element: must be present, within its length limits and free of delimiters."""
    if type(value) is str and value.isalnum() and min_length <= len(value) <= max_length:
        return value  # the usual case: no space and no delimiter possible
    if value is None or not min_length <= len(value) <= max_length or value != value.strip():
        value = (value or "").strip()
        if not value:
            raise X12InputError(f"{what} is missing")
        if not min_length <= len(value) <= max_length:
            raise X12InputError(f"{what} {value!r} must be {min_length}-{max_length} characters long")
    if "~" in value or "*" in value or ":" in value or "^" in value:
        raise X12InputError(f"{what} {value!r} contains an X12 delimiter (~ * : ^)")
    return value


def parse_decimal(text: str, *, segment_number: int, segment_id: str, what: str) -> Decimal:
    """Parse an X12 ``R`` element, with an error naming the segment and the element."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise X12ParseError(
            f"{what} {text!r} is not a number", segment_number=segment_number, segment_id=segment_id
        ) from None
    if not value.is_finite():
        raise X12ParseError(
            f"{what} {text!r} is not a number", segment_number=segment_number, segment_id=segment_id
        )
    return value


def parse_date(text: str, *, segment_number: int, segment_id: str, what: str) -> dt.date:
    """Parse CCYYMMDD with an error naming the segment."""
    try:
        if len(text) != 8 or not text.isdigit():
            raise ValueError
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise X12ParseError(
            f"{what} {text!r} is not a CCYYMMDD date", segment_number=segment_number, segment_id=segment_id
        ) from None


# --------------------------------------------------------------------------- envelope


@dataclass(frozen=True)
class Envelope:
    """Interchange (ISA/IEA) settings chosen by the caller.

    ``interchange_control_number`` (ISA13) must be unique per sender and receiver: the billing layer
    keeps a sequence for it. ``usage`` is ISA15, ``P`` production or ``T`` test. ``created`` gives
    ISA09/10 and GS04/05 (and BHT04/05 in an 837).
    """

    sender_id: str
    receiver_id: str
    interchange_control_number: int
    created: dt.datetime
    sender_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"
    usage: str = "P"
    ack_requested: bool = False

    def isa(self) -> str:
        """The ISA segment with every field padded to its fixed width (without terminator)."""
        if self.usage not in ("P", "T"):
            raise X12InputError(f"ISA15 usage indicator must be P or T, not {self.usage!r}")
        if not 0 < self.interchange_control_number <= 999_999_999:
            raise X12InputError("ISA13 interchange control number must be 1-999999999")
        sender = check_id(self.sender_id, "ISA06 sender id", max_length=15)
        receiver = check_id(self.receiver_id, "ISA08 receiver id", max_length=15)
        for qualifier in (self.sender_qualifier, self.receiver_qualifier):
            check_id(qualifier, "ISA05/07 id qualifier", min_length=2, max_length=2)
        return ELEMENT_SEPARATOR.join(
            [
                "ISA",
                "00",
                " " * 10,
                "00",
                " " * 10,
                self.sender_qualifier,
                sender.ljust(15),
                self.receiver_qualifier,
                receiver.ljust(15),
                self.created.strftime("%y%m%d"),
                fmt_time(self.created),
                REPETITION_SEPARATOR,
                "00501",
                f"{self.interchange_control_number:09d}",
                "1" if self.ack_requested else "0",
                self.usage,
                COMPONENT_SEPARATOR,
            ]
        )

    def iea(self, group_count: int) -> str:
        """IEA: IEA01 counts functional groups, IEA02 repeats ISA13."""
        return f"IEA*{group_count}*{self.interchange_control_number:09d}"


def gs_segment(
    functional_id: str,
    sender_code: str,
    receiver_code: str,
    created: dt.datetime,
    group_control_number: int,
    version: str,
) -> str:
    """GS: functional id (HC 837, HP 835, FA 999), application sender/receiver codes, date, time,
    GS06 group control number (1-9 digits), X, version/release (e.g. 005010X222A1)."""
    if not 0 < group_control_number <= 999_999_999:
        raise X12InputError("GS06 group control number must be 1-999999999")
    sender = check_id(sender_code, "GS02 application sender code", min_length=2, max_length=15)
    receiver = check_id(receiver_code, "GS03 application receiver code", min_length=2, max_length=15)
    return (
        f"GS*{functional_id}*{sender}*{receiver}*{fmt_date(created)}*{fmt_time(created)}"
        f"*{group_control_number}*X*{version}"
    )


# --------------------------------------------------------------------------- tokenizer


@dataclass(frozen=True)
class Delimiters:
    """The four delimiters of one interchange, read from its ISA segment."""

    element: str
    component: str
    repetition: str
    segment: str
    version: str = "00501"  # ISA12


_LINE_BREAKS = "\r\n"
BOM = "\ufeff"


def _is_delimiter(char: str) -> bool:
    """A character the ISA may declare as a delimiter: anything but a letter, a digit, a space or a
    line break. Control characters (0x1C-0x1F, which ``str.isspace()`` calls blanks) are allowed:
    pharmacy benefit managers use 0x1D, 0x1F and 0x1E."""
    return not char.isalnum() and char != " " and char not in _LINE_BREAKS


def _delimiters_from_isa(head: str) -> Delimiters:
    """Read the delimiters from the start of an interchange (BOM and leading blanks already gone).

    Line breaks inside the ISA are ignored (files wrapped at 80 columns), and the ISA is read by its
    separators rather than by fixed columns, so a sender that trims the padding still parses: ISA16
    (the component separator) follows the 16th element separator and the terminator follows it. A
    line break right after ISA16 is the terminator when a segment id follows it directly."""
    if not head.startswith("ISA"):
        raise X12ParseError(
            "this is not an X12 file: it does not start with an ISA segment", segment_number=1
        )
    element = head[3] if len(head) > 3 else ""
    if not element or not _is_delimiter(element):
        raise X12ParseError(
            f"ISA element separator {element!r} is not a delimiter", segment_number=1, segment_id="ISA"
        )
    seen = 0
    component = segment = ""
    parts: list[str] = [""]
    i = 3
    n = len(head)
    while i < n:
        char = head[i]
        i += 1
        if seen < 16:
            if char in _LINE_BREAKS:
                continue
            if char == element:
                seen += 1
                parts.append("")
            else:
                parts[-1] += char
            continue
        if not component:
            if char in _LINE_BREAKS:
                continue
            component = char
            continue
        # The terminator: the next character, unless it is a line break that merely wraps the line.
        if char in _LINE_BREAKS:
            rest = head[i:].lstrip(_LINE_BREAKS)
            if rest[:1].isalnum():
                segment = char
                break
            if not rest:
                continue
            continue
        segment = char
        break
    if not segment:
        raise X12ParseError(
            "the ISA segment is truncated (it must have 16 elements and end with a terminator)",
            segment_number=1,
            segment_id="ISA",
        )
    if len(parts) != 17:  # pragma: no cover - the loop stops at 16
        raise X12ParseError(
            f"the ISA segment has {len(parts) - 1} elements instead of 16", segment_number=1, segment_id="ISA"
        )
    if not _is_delimiter(component) or (segment not in _LINE_BREAKS and not _is_delimiter(segment)):
        raise X12ParseError(
            "the ISA segment does not end with a component separator and a terminator",
            segment_number=1,
            segment_id="ISA",
        )
    if len({element, component, segment}) != 3:
        raise X12ParseError(
            f"the ISA declares the same character twice as a delimiter (element {element!r}, component "
            f"{component!r}, terminator {segment!r})",
            segment_number=1,
            segment_id="ISA",
        )
    repetition = (
        parts[11] if parts[12] >= "00402" and len(parts[11]) == 1 and _is_delimiter(parts[11]) else ""
    )
    return Delimiters(
        element=element, component=component, repetition=repetition, segment=segment, version=parts[12]
    )


def x12_version_name(isa12: str) -> str:
    """ISA12 as the version people say: ``00401`` → ``004010``, ``00501`` → ``005010``."""
    return f"{isa12}0" if len(isa12) == 5 and isa12.isdigit() else isa12 or "an unknown version"


Segment = list[str]


class SegmentReader:
    """Iterate the segments of an X12 text as lists of elements (``[segment_id, e1, e2, ...]``).

    ``source`` is a string or a text file object read in chunks, so a large file is tokenized in
    bounded memory. Delimiters come from the ISA (``self.delimiters`` is set once the first segment
    has been read). A leading UTF-8 byte-order mark is skipped; CR and LF that are not the declared
    terminator are ignored wherever they fall, even inside a segment (lines wrapped at 80 columns). ``self.count`` is the number of
    segments read so far (the 1-based number of the last one). Raises ``X12ParseError`` when the text
    does not start with a well-formed ISA or ends in the middle of a segment.
    """

    def __init__(self, source: str | IO[str], *, chunk_size: int = 1 << 16) -> None:
        self._source = source
        self._chunk_size = chunk_size
        self.delimiters: Delimiters | None = None
        self.count = 0

    def __iter__(self) -> Iterator[Segment]:
        source = self._source
        if isinstance(source, str):
            chunks: Iterator[str] = iter((source,))
        else:
            chunks = iter(lambda: source.read(self._chunk_size), "")
        lead = BOM + " \t\r\n"
        buffer = ""
        for chunk in chunks:  # enough to hold an ISA wrapped over a few lines
            buffer += chunk
            if len(buffer) - len(lead) >= 2 * ISA_LENGTH and len(buffer.lstrip(lead)) >= 2 * ISA_LENGTH:
                break
        buffer = buffer.lstrip(lead)
        delimiters = self.delimiters = _delimiters_from_isa(buffer)
        # Line breaks that are not the terminator are dropped wherever they fall.
        noise = [c for c in _LINE_BREAKS if c != delimiters.segment]
        terminator, sep = delimiters.segment, delimiters.element
        pending: Iterator[str] = iter((buffer,))
        buffer = ""
        for stream in (pending, chunks):
            for chunk in stream:
                for char in noise:
                    if char in chunk:
                        chunk = chunk.replace(char, "")
                buffer += chunk
                parts = buffer.split(terminator)
                buffer = parts.pop()
                for part in parts:
                    part = part.strip("\r\n\t ")
                    if part:
                        self.count += 1
                        yield part.split(sep)
        tail = buffer.strip()
        if tail:
            raise X12ParseError(
                f"the file ends with an unterminated segment {tail[:40]!r}", segment_number=self.count + 1
            )


def iter_segments(source: str | IO[str], *, chunk_size: int = 1 << 16) -> Iterator[Segment]:
    """Shorthand for ``iter(SegmentReader(source))`` when the delimiters are not needed."""
    return iter(SegmentReader(source, chunk_size=chunk_size))


def detect_delimiters(text: str) -> Delimiters:
    """Delimiters of an X12 text, read from its ISA segment (after any byte-order mark)."""
    return _delimiters_from_isa(text.lstrip(BOM + " \t\r\n"))


def element(seg: Segment, index: int) -> str:
    """Element ``index`` (1-based like X12 positions) or ``""`` when absent."""
    return seg[index] if index < len(seg) else ""


class TrailerCounts:
    """Checks an interchange's trailers as its segments go by: SE01 counts the segments of its set
    (ST and SE included) and SE02 repeats ST02; GE01 counts the sets of its group and GE02 repeats
    GS06; IEA01 counts the groups and IEA02 repeats ISA13. ``see(seg, n)`` takes each segment with
    its 1-based number in the file and raises ``X12ParseError`` naming the numbers that disagree."""

    def __init__(self) -> None:
        self.isa13 = self.gs06 = self.st02 = ""
        self.groups = self.sets = 0
        self.st_at = 0

    def see(self, seg: Segment, n: int) -> None:
        tag = seg[0]
        if tag == "ISA":
            self.isa13, self.groups = element(seg, 13), 0
        elif tag == "GS":
            self.gs06, self.sets = element(seg, 6), 0
            self.groups += 1
        elif tag == "ST":
            self.st02, self.st_at = element(seg, 2), n
            self.sets += 1
        elif tag == "SE":
            count = n - self.st_at + 1
            if element(seg, 1) != str(count):
                raise X12ParseError(
                    f"SE01 says {element(seg, 1)!r} segments but the transaction set has {count}",
                    segment_number=n,
                    segment_id="SE",
                )
            if element(seg, 2) != self.st02:
                raise X12ParseError(
                    f"SE02 {element(seg, 2)!r} does not match ST02 {self.st02!r}",
                    segment_number=n,
                    segment_id="SE",
                )
        elif tag == "GE":
            if element(seg, 1) != str(self.sets):
                raise X12ParseError(
                    f"GE01 says {element(seg, 1)!r} transaction sets but the group has {self.sets}",
                    segment_number=n,
                    segment_id="GE",
                )
            if element(seg, 2) != self.gs06:
                raise X12ParseError(
                    f"GE02 {element(seg, 2)!r} does not match GS06 {self.gs06!r}",
                    segment_number=n,
                    segment_id="GE",
                )
        elif tag == "IEA":
            if element(seg, 1) != str(self.groups):
                raise X12ParseError(
                    f"IEA01 says {element(seg, 1)!r} functional groups but the interchange has {self.groups}",
                    segment_number=n,
                    segment_id="IEA",
                )
            if element(seg, 2) != self.isa13:
                raise X12ParseError(
                    f"IEA02 {element(seg, 2)!r} does not match ISA13 {self.isa13!r}",
                    segment_number=n,
                    segment_id="IEA",
                )


def answer_kind(text: str) -> str | None:
    """What an inbound X12 file is, from its first transaction set (ST01) or TA1: ``"835"``, ``"999"``,
    ``"277CA"``, ``"TA1"`` (an interchange acknowledgement alone), or None when it is none of
    these or not X12 at all. Reads only the head of the file."""
    ta1 = False
    try:
        for seg in SegmentReader(text[:20000]):
            tag = seg[0]
            if tag == "TA1":
                ta1 = True
            elif tag == "ST":  # the set says what it is (GS01 HP, FA, HN agrees in a sound file)
                return {"835": "835", "999": "999", "277": "277CA"}.get(element(seg, 1))
            elif tag == "IEA":
                break
    except X12ParseError:
        if not text.lstrip(BOM + " \t\r\n").startswith("ISA") or len(text) <= 20000:
            return None  # not X12, or damaged: the importer will say why
    return "TA1" if ta1 else None
