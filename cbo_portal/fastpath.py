"""The PostgreSQL fast path for bulk work (claim builds, 835 intake, referral imports), in one place.

Rule: every PostgreSQL-only speed-up sits behind the one vendor check,
``on_postgresql()``, and each has a plain fallback that any database runs with the same result:

* ``copy_rows`` / ``copy_lines`` insert with ``COPY … FROM STDIN`` (psycopg 3), several times
  faster than ``INSERT`` for thousands of rows; the fallback is ``bulk_create``. Rows are plain
  tuples (building 100,000 model instances costs more than writing them). Every database
  constraint still holds.
* ``reserve_ids`` takes new keys from a table's sequence, so rows that point at them can be made
  before they are written.
* ``among`` filters a field to a list of values with ``= ANY(array)``: one parameter however long
  the list, where ``__in`` sends one placeholder per value.
* ``update_from_arrays`` sets (or adds to) columns of many rows with one ``UPDATE … FROM unnest``.
* ``advisory_lock`` and ``deferred_fk_checks`` are PostgreSQL's transaction tools, no-ops elsewhere.

Literals are built in Python (``array_literal``, ``copy_text``): Django's psycopg cursor binds
parameters on the client, and its generic adapters cost more than the statements for big lists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from itertools import islice

from django.db import connection, models
from django.db.models import F, Q
from django.utils import timezone

COPY_CHUNK = 250  # rows per write to the COPY stream: the server stores rows while Python makes more
NULL = "\\N"
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def on_postgresql() -> bool:
    """The one vendor check: the fast path on PostgreSQL, the portable one elsewhere."""
    return connection.vendor == "postgresql"


# --------------------------------------------------------------------------- literals


def needs_copy_escape(text: str) -> bool:
    return _NEEDS_ESCAPE.search(text) is not None


def copy_escape(text: str) -> str:
    """Text as one value of ``COPY``'s text format (backslash, tab, newline and carriage return
    escaped); most values need nothing, so look before copying."""
    return text.translate(_COPY_ESCAPES) if _NEEDS_ESCAPE.search(text) else text


def copy_value(value: object) -> str:
    """One value in ``COPY``'s text format: ``\\N`` for None, ``t``/``f``, a list, tuple or dict
    as JSON (our JSON columns), a date or time in ISO format, anything else as it prints."""
    if value is None:
        return NULL
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, list | tuple | dict):
        text = json.dumps(list(value) if isinstance(value, tuple) else value)
    elif isinstance(value, str):
        text = value
    else:
        text = value.isoformat() if isinstance(value, datetime) else str(value)
    return copy_escape(text)


def copy_text(rows: Iterable[Sequence]) -> str:
    """``rows`` as one ``COPY`` text (``copy_row_lines``)."""
    return "".join(copy_row_lines(rows))


def copy_row_lines(rows: Iterable[Sequence]) -> Iterator[str]:
    """Each row as a ``COPY`` line (``copy_value`` per value, tab-separated). Each distinct value
    is formatted once: a big insert repeats the same dates, codes and lists."""
    done: dict[tuple[type, object], str] = {}  # by type too: Decimal("1") == True, but not in COPY
    for row in rows:
        values = []
        for v in row:
            if type(v) is int:
                values.append(str(v))
                continue
            try:
                key = (type(v), tuple(v) if type(v) is list else v)
                text = done.get(key)
            except TypeError:  # a dict, or a list holding one: not hashable, format it each time
                values.append(copy_value(v))
                continue
            if text is None:
                text = done[key] = copy_value(v)
            values.append(text)
        yield "\t".join(values) + "\n"


def array_literal(values: Iterable[object]) -> str:
    """A one-dimensional PostgreSQL array literal (``{1,2}``, ``{"a","b"}``; None is NULL), cast
    by the statement to its element type. Numbers go as they print, anything else quoted and
    escaped; the usual cases are one ``join``."""
    values = list(values)
    kinds = set(map(type, values))
    if kinds <= {int, Decimal}:  # ids and amounts, the usual case
        return "{" + ",".join(map(str, values)) + "}"
    if kinds == {str}:
        body = "\0".join(map(str, values))  # NUL stands for the separator, unless a value holds one
        if '"' not in body and "\\" not in body and body.count("\0") == len(values) - 1:
            return '{"' + body.replace("\0", '","') + '"}'
    out = []
    for v in values:
        if v is None:
            out.append("NULL")
        elif isinstance(v, int | Decimal):
            out.append(str(v))
        else:
            out.append('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(out) + "}"


# --------------------------------------------------------------------------- writes


def _field(model: type[models.Model], name: str) -> models.Field:
    """A concrete column of ``model`` by name or attribute name (``claim`` or ``claim_id``)."""
    found = model._meta.get_field(name)
    assert isinstance(found, models.Field) and found.column, f"{model.__name__}.{name} is not a column"
    return found


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` new primary keys from the table's sequence, in one round trip (PostgreSQL)."""
    if not count:
        return []
    meta = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(nextval(pg_get_serial_sequence(%s, %s))) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, count],
        )
        return cursor.fetchone()[0]


def copy_rows(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence], *, return_ids: bool = False
) -> list[int]:
    """Insert new rows, given as tuples of values for ``fields`` (attribute names: ``claim_id``,
    not ``claim``). Fields left out take their model defaults, and ``auto_now``/``auto_now_add``
    fields the current time, as ``save()`` would. Returns the new keys in row order when
    ``return_ids`` (else ``[]``)."""
    if not rows:
        return []
    meta = model._meta
    if not on_postgresql():
        json_at = [i for i, name in enumerate(fields) if isinstance(meta.get_field(name), models.JSONField)]
        objs = []
        for row in rows:
            values = dict(zip(fields, row, strict=True))
            for i in json_at:  # a tuple of codes is stored as the JSON list it stands for
                if isinstance(row[i], tuple):
                    values[fields[i]] = list(row[i])
            objs.append(model(**values))
        model._default_manager.bulk_create(objs, batch_size=500)
        return [obj.pk for obj in objs] if return_ids else []
    now = timezone.now()
    rest = [f for f in meta.concrete_fields if f.attname not in fields and not f.primary_key]
    tail = tuple(
        now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
        for f in rest
    )
    names = [*fields, *(f.attname for f in rest)]
    ids: list[int] = []
    if return_ids:
        ids = reserve_ids(model, len(rows))
        names.insert(0, meta.pk.attname)
        rows = [(pk, *row, *tail) for pk, row in zip(ids, rows, strict=True)]
    elif tail:
        rows = [(*row, *tail) for row in rows]
    copy_lines(model, names, copy_row_lines(rows))
    return ids


def copy_lines(model: type[models.Model], fields: Sequence[str], lines: str | Iterable[str]) -> None:
    """PostgreSQL only: insert rows already in ``COPY`` text (one string, or lines made while they
    are sent), with a value for each of ``fields`` (attribute names) on every line."""
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_field(model, name).column) for name in fields)
    sql = f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        if isinstance(lines, str):
            copy.write(lines)
            return
        lines = iter(lines)
        while chunk := "".join(islice(lines, COPY_CHUNK)):
            copy.write(chunk)


def update_from_arrays(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence], *, increment: bool = False
) -> None:
    """Set (or, with ``increment``, add to) ``fields`` of many rows given as ``(pk, *values)``:
    one ``UPDATE … FROM unnest(arrays)`` on PostgreSQL (one parameter per column, however many
    rows), ``bulk_update`` elsewhere."""
    if not rows:
        return
    meta = model._meta
    if on_postgresql():
        quote = connection.ops.quote_name
        table = quote(meta.db_table)
        types = [_field(model, f).db_type(connection) for f in fields]
        columns = [quote(_field(model, f).column) for f in fields]
        sets = ", ".join(f"{c} = {table}.{c} + v.{c}" if increment else f"{c} = v.{c}" for c in columns)
        arrays = ", ".join(["%s::bigint[]", *(f"%s::{t}[]" for t in types)])
        # Table and column names come from the model's _meta; the values are parameters.
        sql = f"UPDATE {table} SET {sets} FROM unnest({arrays}) AS v(id, {', '.join(columns)}) WHERE {table}.id = v.id"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, [array_literal(c) for c in zip(*rows, strict=True)])
        return
    current = {}
    if increment:
        current = dict(
            model._default_manager.filter(pk__in=[r[0] for r in rows]).values_list("pk", fields[0])
        )
    objs = []
    for r in rows:
        obj = model(pk=r[0])
        for name, value in zip(fields, r[1:], strict=True):
            setattr(obj, name, current.get(r[0], 0) + value if increment else value)
        objs.append(obj)
    model._default_manager.bulk_update(objs, fields, batch_size=500)


# --------------------------------------------------------------------------- reads


class _AnyOf(models.Lookup):
    """``field = ANY(%s::type[])`` with the values as one array literal (``among``)."""

    lookup_name = "any_of"  # never registered: used as an expression by ``among`` only
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        # text[], never varchar(n)[]: a cast to varchar(n) would cut a too-long value and match it.
        element = (
            "text" if field.get_internal_type() in ("CharField", "TextField") else field.db_type(connection)
        )
        return f"{lhs} = ANY(%s::{element}[])", [*params, self.rhs]


def among(field: str, values: Iterable[object]) -> Q:
    """``field`` is one of ``values``: on PostgreSQL ``= ANY(array)``, one parameter (a 10,000-id
    ``IN`` list costs more to send and plan than the statement it selects); ``__in`` elsewhere."""
    values = list(values)
    if on_postgresql():
        return Q(_AnyOf(F(field), array_literal(values)))
    return Q(**{f"{field}__in": values})


# --------------------------------------------------------------------------- transactions


def advisory_lock(*keys: int) -> None:
    """Hold PostgreSQL's transaction-scoped advisory lock on ``keys`` (two ints) until the
    transaction ends: work under the same keys runs one after the other. Nothing elsewhere
    (SQLite allows one writer at a time anyway)."""
    if on_postgresql():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", list(keys))


def deferred_fk_checks(model_classes: Iterable[type[models.Model]]) -> list[str]:
    """Two statements that check, at once, every row written so far against the deferred foreign
    keys of the models' tables, then put those keys back to deferred (Django declares them
    ``DEFERRABLE INITIALLY DEFERRED``): the checks the commit would run, earlier and in smaller
    batches; a violation fails the transaction the same way. None off PostgreSQL."""
    if not on_postgresql():
        return []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND condeferrable AND condeferred "
            "AND conrelid = ANY(%s::regclass[]) ORDER BY conname",
            [array_literal(quote(m._meta.db_table) for m in model_classes)],
        )
        names = ", ".join(quote(name) for (name,) in cursor.fetchall())
    if not names:
        return []
    return [f"SET CONSTRAINTS {names} IMMEDIATE", f"SET CONSTRAINTS {names} DEFERRED"]
