"""One rule for text that cannot be real input: NUL and other control characters.

No field of this platform (a name, a search, a note, an id) ever holds a NUL byte or another
C0 control character other than tab, carriage return and line feed, or DEL. PostgreSQL refuses
NUL in a string outright (the request used to end in a 500), and the other control characters
are never typed by a person: they come from a broken client or a prober. So they are refused
at the door, in one place, with a 400 that says which field and what was wrong; nothing behind
the door has to think about them again.

``BadInputMiddleware`` checks the path, the query string (keys and values), form posts (urlencoded
and multipart, keys and values; files are left to the parser of each file type) and the cookies
Django itself reads from the database (the session). It also turns a body over
``DATA_UPLOAD_MAX_MEMORY_SIZE`` (or with too many fields) into a clear 413/400 page, and answers
in the API's own JSON error format under ``/api/``.

``posted_id`` / ``id_or_none`` read record ids from a form or a query string: ASCII digits only
(``str.isdigit()`` is also true for "²" or "٣", which ``int()`` then refuses or silently reads),
and within the range of a database id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.template.loader import render_to_string

# C0 controls except tab (09), line feed (0a) and carriage return (0d); DEL (7f).
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_ID = 2**63 - 1  # a bigint primary key
_ID = re.compile(r"[0-9]{1,19}")
API_PREFIX = "/api/"
# The cookies whose value Django looks up in the database (so a NUL there would reach PostgreSQL).
_CHECKED_COOKIES = (settings.SESSION_COOKIE_NAME,)


class BadInput(BadRequest):
    """A request that cannot be served as sent; the message says what to change. Raised by views
    and helpers, answered by ``BadInputMiddleware`` with a 400 (a page, or JSON under /api/)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def describe_char(char: str) -> str:
    """U+0000 (a NUL byte), U+001B (a control character)…"""
    name = "a NUL byte" if char == "\x00" else "a control character"
    return f"U+{ord(char):04X}, {name}"


def control_char_problem(text: str, where: str) -> str | None:
    """A sentence naming the first NUL/control character in ``text`` (``where`` says which field,
    e.g. "the search “q”"), or None when the text is clean."""
    match = CONTROL_CHARS.search(text)
    if match is None:
        return None
    return (
        f"{where[0].upper()}{where[1:]} contains {describe_char(match.group())} at position "
        f"{match.start() + 1}, which is never part of real text. Remove it and try again."
    )


def _first_problem(pairs: Iterable[tuple[str, str]], what: str) -> tuple[str, str] | None:
    for key, value in pairs:
        if problem := control_char_problem(key, f"the name of a {what}"):
            return key, problem
        if problem := control_char_problem(value, f"the {what} “{key}”"):
            return key, problem
    return None


def _querydict_pairs(data: QueryDict) -> Iterable[tuple[str, str]]:
    for key, values in data.lists():
        for value in values:
            yield key, value if isinstance(value, str) else ""


def querydict_problem(data: QueryDict, what: str) -> tuple[str, str] | None:
    """(field, sentence) for the first field of ``data`` holding a NUL/control character."""
    return _first_problem(_querydict_pairs(data), what)


def request_problem(request: HttpRequest) -> tuple[str | None, str] | None:
    """The first NUL/control character in what every view may read without checking it."""
    if problem := control_char_problem(request.path_info, "the address"):
        return None, problem
    if found := querydict_problem(request.GET, "query parameter"):
        return found
    cookies = ((name, request.COOKIES[name]) for name in _CHECKED_COOKIES if name in request.COOKIES)
    if found := _first_problem(cookies, "cookie"):
        return found
    if request.method == "POST" and (found := querydict_problem(request.POST, "form field")):
        return found
    return None


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def api_error(code: str, message: str, status: int, fields: dict | None = None) -> JsonResponse:
    """The API's one error format (see cbo_portal/api/exceptions.py)."""
    return JsonResponse({"error": {"code": code, "message": message, "fields": fields or {}}}, status=status)


def refuse(
    request: HttpRequest,
    message: str,
    *,
    status: int = 400,
    field: str | None = None,
    code: str = "bad_input",
) -> HttpResponse:
    """Answer a bad request in words: JSON under /api/, a page elsewhere."""
    if is_api(request):
        return api_error(code, message, status, {field: [message]} if field else None)
    back = None if CONTROL_CHARS.search(request.path) else request.path
    html = render_to_string(
        "cbo_portal/bad_input.html", {"message": message, "status": status, "back": back}, request=request
    )
    return HttpResponse(html, status=status)


def _size(limit: int | None) -> str:
    if limit is None:
        return "the limit"
    return f"{limit / 1048576:.0f} MB" if limit >= 1048576 else f"{limit / 1024:.0f} KB"


def body_problem(exc: Exception) -> tuple[int, str, str] | None:
    """(status, code, sentence) for Django's refusals of a request body."""
    if isinstance(exc, RequestDataTooBig):
        limit = _size(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        message = f"The request is larger than {limit} (not counting uploaded files). Send less at once."
        return 413, "request_too_large", message
    if isinstance(exc, TooManyFieldsSent):
        message = (
            f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields. Send less at once."
        )
        return 400, "too_many_fields", message
    if isinstance(exc, TooManyFilesSent):
        message = (
            f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files. Send fewer at once."
        )
        return 400, "too_many_files", message
    return None


class BadInputMiddleware:
    """Refuses NUL/control characters in the address, query string, session cookie and form
    fields before any view or database sees them; answers ``BadInput`` and oversized bodies in
    words. Sits before the session middleware, so a forged session cookie never reaches the
    session table."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            found = request_problem(request)
        except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent) as exc:
            status, code, message = body_problem(exc)  # type: ignore[misc]
            return refuse(request, message, status=status, code=code)
        if found is not None:
            field, message = found
            return refuse(request, message, field=field, code="validation_error")
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, BadInput):
            return refuse(request, exception.message, field=exception.field, code="validation_error")
        if found := body_problem(exception):
            status, code, message = found
            return refuse(request, message, status=status, code=code)
        return None


# ---------------------------------------------------------------------------- ids


def id_or_none(value: object) -> int | None:
    """``value`` as a record id when it is one (ASCII digits, within a bigint), else None: for
    optional filters, where a bad value just means "no filter"."""
    text = value.strip() if isinstance(value, str) else ""
    if not _ID.fullmatch(text):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def posted_id(data: QueryDict, name: str, *, label: str | None = None) -> int:
    """The record id in field ``name`` of a form post; ``BadInput`` (400) when it is missing or not
    an id, instead of the ValueError a lookup would raise deep inside the ORM."""
    raw = data.get(name)
    number = id_or_none(raw)
    if number is None:
        what = label or f"“{name}”"
        shown = f" (got “{raw[:40]}”)" if isinstance(raw, str) and raw.strip() else ""
        raise BadInput(
            f"The form did not say which {what} it is about{shown}: it must be a record number. "
            "Reload the page and try again.",
            field=name,
        )
    return number
