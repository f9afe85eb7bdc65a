"""The ledger import's insert path: rows as dicts straight into the table (COPY on PostgreSQL, executemany
elsewhere), skipping model instances; primary keys are taken from the table's sequence up front when the caller
needs them (history and residence rows point at new residents).

Only for append-only bulk writes inside a transaction; ordinary writes use the ORM.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from django.db import connection, models
from django.db.models import NOT_PROVIDED

Converter = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _json(value: Any) -> Any:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _converter(field: models.Field) -> Converter:
    """How one column's Python value becomes a parameter (done per column, not per value through the ORM)."""
    if isinstance(field, models.JSONField):
        return _json
    if connection.vendor == "postgresql":
        return _same
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return connection.ops.adapt_datefield_value
    return _same


def _default(field: models.Field) -> Any:
    if field.default is NOT_PROVIDED:
        return None
    return field.get_default()


@cache
def _columns(model: type[models.Model], vendor: str, with_pk: bool) -> list[tuple[str, str, Converter, Any]]:
    """(attribute name, column, converter, default) for the concrete fields; ``vendor`` keys the cache."""
    out = []
    for field in model._meta.concrete_fields:
        if field.primary_key and not with_pk:
            continue
        out.append((field.attname, field.column, _converter(field), _default(field)))
    return out


def insert(model: type[models.Model], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (attribute name → value; missing fields take their default)."""
    if not rows:
        return
    with_pk = model._meta.pk.attname in rows[0]
    cols = _columns(model, connection.vendor, with_pk)
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    names = ", ".join(qn(column) for _, column, _, _ in cols)
    if all(conv is _same for _, _, conv, _ in cols):  # the common case on PostgreSQL: no per-value call
        pairs = [(attname, default) for attname, _, _, default in cols]
        values = [tuple([row.get(a, d) for a, d in pairs]) for row in rows]
    else:
        values = [
            tuple(conv(row.get(attname, default)) for attname, _, conv, default in cols) for row in rows
        ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY goes through psycopg's own cursor, which Django does not wrap: without ``wrap_database_errors``
            # a constraint violation would surface as ``psycopg.Error``, not ``django.db.DatabaseError`` (ADR 0024).
            sql = f"COPY {table} ({names}) FROM STDIN"
            with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:  # type: ignore[attr-defined]
                for value in values:
                    copy.write_row(value)
        else:
            marks = ", ".join(["%s"] * len(cols))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", values)  # noqa: S608


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` fresh primary keys for ``model``. Call inside the transaction that inserts them: PostgreSQL draws
    them from the sequence (safe with concurrent writers); SQLite holds the write lock for the whole transaction
    (``BEGIN IMMEDIATE``), so the next ids past the table's high-water mark are ours."""
    if count <= 0:
        return []
    table = model._meta.db_table
    pk = model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk, count],
            )
            return [row[0] for row in cursor.fetchall()]
        qn = connection.ops.quote_name
        cursor.execute(f"SELECT COALESCE(MAX({qn(pk)}), 0) FROM {qn(table)}")  # noqa: S608
        high = cursor.fetchone()[0]
        if connection.vendor == "sqlite":
            cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [table])
            high = max(high, cursor.fetchone()[0])
    return list(range(high + 1, high + 1 + count))
