"""Request-body parsers for the API: DRF's, plus the limits a body must keep.

A JSON body may nest at most ``MAX_DEPTH`` levels (Python's parser would otherwise recurse until
it crashes the request with a 500), and no string in it, key or value, may hold a NUL or another
control character (the same rule as ``cbo_portal.badinput`` applies to forms and query strings;
PostgreSQL refuses NUL) or half of a UTF-16 surrogate pair (which no UTF-8 column can store).
Form bodies (PUT/PATCH, which Django does not parse itself) get the control-character rule too.
Each refusal is a ``ParseError``: a 400 in the API's error format that names the place.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from cbo_portal.badinput import CONTROL_CHARS, describe_char, querydict_problem

MAX_DEPTH = 32
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _strict_constant(value: str) -> None:
    raise ValueError(f"{value} is not a JSON number")


def _where(path: str) -> str:
    return f"at {path}" if path else "in the body"


def json_problem(data: Any, *, max_depth: int = MAX_DEPTH) -> str | None:
    """A sentence for the first thing in parsed JSON ``data`` that breaks the rules above, or None.
    Walks with its own stack, so a deep document cannot exhaust Python's."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, dict | list):
            if depth > max_depth:
                return f"The JSON is nested more than {max_depth} levels deep ({_where(path)}); flatten it."
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and (problem := _text_problem(key, f"a key {_where(path)}")):
                    return problem
                child = f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]"
                stack.append((item, depth + 1, child.lstrip(".")))
        elif isinstance(value, str) and (problem := _text_problem(value, f"the text {_where(path)}")):
            return problem
    return None


def _text_problem(text: str, where: str) -> str | None:
    if match := CONTROL_CHARS.search(text):
        return (
            f"In the JSON, {where} contains {describe_char(match.group())} at position "
            f"{match.start() + 1}, which is never part of real text. Remove it and try again."
        )
    if match := _SURROGATE.search(text):
        return (
            f"In the JSON, {where} contains an unpaired surrogate (\\u{ord(match.group()):04x}) at position "
            f"{match.start() + 1}; send the character itself in UTF-8."
        )
    return None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with a depth limit and the text rule; the body size limit is
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (DRF reads the body through ``request.body``, which enforces
    it; the check here covers a stream handed over directly)."""

    max_depth = MAX_DEPTH

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            from django.core.exceptions import RequestDataTooBig

            raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"The body is not {encoding} text (byte {exc.start} cannot be read).") from None
        try:
            data = json.loads(text, parse_constant=_strict_constant if self.strict else None)
        except RecursionError:
            raise ParseError(
                f"The JSON is nested more than {self.max_depth} levels deep; flatten it."
            ) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if problem := json_problem(data, max_depth=self.max_depth):
            raise ParseError(problem)
        return data


def _check_form(data, what: str) -> None:
    if found := querydict_problem(data, what):
        raise ParseError(found[1])


class FormParser(parsers.FormParser):
    """DRF's urlencoded parser with the control-character rule."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _check_form(data, "form field")
        return data


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser with the control-character rule for the fields (files are left to
    the parser of each file type)."""

    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        _check_form(result.data, "form field")
        return result
