"""Bulk writes of plain tuples straight to a model's table (see docs/adr/0002-bulk-importers.md).

Importers move hundreds of thousands of rows; building a model instance per row and letting
the ORM render each INSERT costs more than the database work itself. A `BulkTable` takes
rows as tuples of Python values (aware datetimes, Decimals, dicts), adapts them for the
database in use and writes them with `executemany` on SQLite or `COPY` on PostgreSQL.
Primary keys are allocated before the insert so the caller knows the id of every new row
without reading it back. Callers run it inside `transaction.atomic()`.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models
from django.db.models.expressions import RawSQL
from django.utils import timezone


def concrete_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    """A model's own column by name (never a reverse relation, which has no column)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.concrete:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return field


Row = tuple[Any, ...]

# Rows per statement batch; also the number of keys per lookup query.
CHUNK = 5000


# How each kind of value is written, as an expression over `{x}`: Django stores SQLite
# datetimes as naive UTC text (matching its format keeps SQL string comparisons right)
# and Decimals as text; JSON goes as text everywhere.
_SQLITE_DATETIME = "{x}.astimezone(UTC).isoformat(' ')[:-6]"
_TEXT = "str({x})"
_JSON = "dumps({x})"


# Stored form (see `stored_form`): on PostgreSQL, datetimes go as UTC text too.
_UTC_TEXT = "{x}.astimezone(UTC).isoformat()"


def _expression(field: models.Field, vendor: str, *, stored: bool = False) -> str | None:
    """How a value of `field` is adapted, as a template over `{x}`, or None (as it is).

    `stored`: the canonical text form of `stored_form` on every database.
    """
    kind = field.get_internal_type()
    if kind == "JSONField":
        template = _JSON
    elif vendor == "sqlite" and kind == "DateTimeField":
        template = _SQLITE_DATETIME
    elif (vendor == "sqlite" or stored) and kind == "DecimalField":
        template = _TEXT
    elif stored and kind == "DateTimeField":
        template = _UTC_TEXT
    else:
        return None
    return f"(None if {{x}} is None else {template})" if field.null else template


def stored_form(field: models.Field, vendor: str) -> Callable[[Any], Any]:
    """A value of `field` as plain text, int or None, the form a `BulkTable(stored=True)`
    takes: datetimes as UTC text (naive on SQLite, as Django stores them), Decimals as
    text, JSON as text. It is canonical (equal values give equal text: money is always
    quantized to its field's places), so rows in this form compare as the values do.

    Rows in this form can cross a process boundary with `marshal`, which turns Python
    objects such as Decimal and datetime into text and back only slowly.
    """
    return _value_adapter(field, vendor, stored=True)


def _compile(
    args: str, expressions: Sequence[str | None], *, before: str = "", after: str = ""
) -> Callable[..., Row]:
    """`lambda <args>: (<before>, r[0] adapted, r[1], ..., <after>)`, built once per table.

    The source holds only column positions and the fixed templates above, so adapting and
    assembling a row is one call and one tuple instead of a loop over its columns.
    """
    parts = [e.format(x=f"r[{i}]") if e else f"r[{i}]" for i, e in enumerate(expressions)]
    items = ", ".join(p for p in (before, *parts, after) if p)
    return eval(f"lambda {args}: ({items},)", {"UTC": UTC, "dumps": json.dumps})  # noqa: S307


def _value_adapter(
    field: models.Field, vendor: str, *, stored: bool = False
) -> Callable[[Any], Any]:
    """One value of `field` as `executemany` or COPY's `write_row` takes it."""
    expression = _expression(field, vendor, stored=stored)
    if expression is None:
        return lambda value: value
    source = f"lambda x: {expression.format(x='x')}"
    return eval(source, {"dumps": json.dumps, "UTC": UTC})  # noqa: S307 - a fixed template


def _make_many(make: Callable[[], Any], count: int) -> list[Any]:
    """`count` values of a callable default. Public ids (`cus_` + 16 base32 characters of
    10 random bytes, omnicrm.core.ids) are made in one batch: encoding one buffer of
    10 * count random bytes yields the same characters as encoding each piece."""
    if getattr(make, "__module__", "") == "omnicrm.core.ids" and count > 1:
        prefix, body = make().split("_", 1)
        if len(body) == 16:
            text = base64.b32encode(secrets.token_bytes(10 * count)).decode("ascii").lower()
            # Sorted, so the batch goes into the unique index in key order (neighbouring
            # pages) instead of at random places; the ids are as random as before.
            return sorted(f"{prefix}_{text[i : i + 16]}" for i in range(0, 16 * count, 16))
    return [make() for _ in range(count)]


def chunked(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class BulkTable:
    """Inserts, updates and deletes rows of one model given as tuples of `columns`.

    `columns` are field names (or attnames such as `customer_id`). Every other concrete
    field is filled in on insert the way the ORM would: `auto_now`/`auto_now_add` fields
    get the current time, callable defaults (public ids) are called per row, constant
    defaults are used as they are. So a field another app adds later with a default
    does not break the importers.

    With `stored`, rows come in `stored_form` (already adapted, text for datetimes and
    decimals) and are written as they are; `to_stored` turns rows read through the ORM
    into that form, to compare them.
    """

    def __init__(self, model: type[models.Model], columns: Sequence[str], *, stored: bool = False):
        opts = model._meta
        self.model = model
        self.table = opts.db_table
        self.pk_column = opts.pk.column
        self.columns = list(columns)
        self.fields = [concrete_field(model, name) for name in columns]
        self.vendor = connection.vendor
        named = {f.attname for f in self.fields} | {opts.pk.attname}
        self.filled = [f for f in opts.concrete_fields if f.attname not in named]
        self.insert_columns = [f.column for f in [opts.pk, *self.fields, *self.filled]]
        self.stored = stored
        adapt = [None if stored else _expression(f, self.vendor) for f in self.fields]
        # Builds (pk, the caller's columns adapted, the filled-in columns); `_fill`
        # adapts the filled-in values once.
        self.build_insert = _compile("pk, r, e", adapt, before="pk", after="*e")
        self.to_stored = _compile(
            "r", [_expression(f, self.vendor, stored=True) for f in self.fields]
        )
        self.touched = [
            f
            for f in opts.concrete_fields
            if getattr(f, "auto_now", False) and f.attname not in named
        ]
        update_fields = [*self.fields, *self.touched]
        self.update_columns = [f.column for f in update_fields]
        self.build_update = _compile("r, t, pk", adapt, after="*t, pk")
        self._sequence: str | None = None

    def _fill(self, now: datetime, count: int) -> list[Row]:
        """Values of the fields the caller does not name for `count` new rows, adapted."""
        constant: list[Any] = []
        made_columns: list[tuple[int, list[Any]]] = []
        for index, field in enumerate(self.filled):
            # In stored form on PostgreSQL too: COPY then sends the batch's one timestamp
            # as text instead of formatting it again for every row.
            adapt = _value_adapter(field, self.vendor, stored=self.stored)
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                value: Any = now
            elif field.has_default() and callable(field.default):
                constant.append(None)
                made = _make_many(field.default, count)
                made = [adapt(v) for v in made]
                made_columns.append((index, made))
                continue
            else:
                value = field.get_default()
            constant.append(adapt(value))
        if not made_columns:
            return [tuple(constant)] * count
        if len(made_columns) == 1:
            index, made = made_columns[0]
            before, after = tuple(constant[:index]), tuple(constant[index + 1 :])
            return [(*before, value, *after) for value in made]
        rows = []
        for position in range(count):
            values = list(constant)
            for index, made in made_columns:
                values[index] = made[position]
            rows.append(tuple(values))
        return rows

    def allocate_ids(self, count: int) -> list[int]:
        """Reserve `count` primary keys. Call inside the transaction that inserts them."""
        if count == 0:
            return []
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                if self._sequence is None:
                    cursor.execute(
                        "SELECT pg_get_serial_sequence(%s, %s)", [self.table, self.pk_column]
                    )
                    self._sequence = cursor.fetchone()[0]
                cursor.execute(
                    "SELECT nextval(%s) FROM generate_series(1, %s)", [self._sequence, count]
                )
                return [row[0] for row in cursor.fetchall()]
            # SQLite: the IMMEDIATE transaction holds the write lock, so no other writer can
            # take these ids between this read and the insert. AUTOINCREMENT tables also
            # remember deleted ids in sqlite_sequence, which must not be reused.
            cursor.execute(f'SELECT MAX("{self.pk_column}") FROM "{self.table}"')  # noqa: S608
            highest = cursor.fetchone()[0] or 0
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [self.table])
            found = cursor.fetchone()
            start = max(highest, found[0] if found else 0) + 1
            return list(range(start, start + count))

    def insert(self, rows: Sequence[Row]) -> list[int]:
        """Insert new rows; returns their primary keys in the same order."""
        if not rows:
            return []
        ids = self.allocate_ids(len(rows))
        filled = self._fill(timezone.now(), len(rows))
        build = self.build_insert
        self._write(
            [build(pk, row, extra) for pk, row, extra in zip(ids, rows, filled, strict=True)]
        )
        _count_written(self.table, len(rows))
        return ids

    def _write(self, rows: list[Any]) -> None:
        columns = ", ".join(f'"{c}"' for c in self.insert_columns)
        if self.vendor == "postgresql":
            # psycopg formats each row for COPY in C (its binary build), several times
            # cheaper than building the text in Python; it streams to the server as it goes.
            with (
                connection.cursor() as cursor,
                cursor.cursor.copy(f'COPY "{self.table}" ({columns}) FROM STDIN') as copy,
            ):
                write = copy.write_row
                for row in rows:
                    write(row)
            return
        with connection.cursor() as cursor:
            marks = ", ".join(["%s"] * len(self.insert_columns))
            sql = f'INSERT INTO "{self.table}" ({columns}) VALUES ({marks})'  # noqa: S608
            for part in chunked(rows):
                cursor.executemany(sql, part)

    def update(self, rows: Sequence[tuple[int, Row]]) -> None:
        """Overwrite `columns` (and `auto_now` fields) of existing rows given as (pk, values)."""
        if not rows:
            return
        now = timezone.now()
        tail = tuple(_value_adapter(f, self.vendor, stored=self.stored)(now) for f in self.touched)
        build = self.build_update
        params = [build(row, tail, pk) for pk, row in rows]
        assignments = ", ".join(f'"{c}" = %s' for c in self.update_columns)
        sql = f'UPDATE "{self.table}" SET {assignments} WHERE "{self.pk_column}" = %s'  # noqa: S608
        with connection.cursor() as cursor:
            for part in chunked(params):
                cursor.executemany(sql, part)
        _count_written(self.table, len(rows))

    def delete(self, ids: Iterable[int]) -> None:
        with connection.cursor() as cursor:
            for part in chunked(list(ids)):
                marks = ", ".join(["%s"] * len(part))
                sql = f'DELETE FROM "{self.table}" WHERE "{self.pk_column}" IN ({marks})'  # noqa: S608
                cursor.execute(sql, list(part))


@dataclass
class SyncCounts:
    """What one sync did to a table."""

    created: int = 0
    updated: int = 0
    deleted: int = 0


def sync(
    table: BulkTable,
    desired: dict[Any, Row],
    existing: dict[Any, tuple[int, Row]],
    *,
    delete_missing: bool = False,
) -> tuple[dict[Any, int], SyncCounts]:
    """Make the table hold `desired` (key -> values of `table.columns`).

    `existing` maps keys to (pk, current values) as read from the database. Rows that
    differ are updated, missing ones inserted, identical ones left alone (their
    `updated_at` does not move, which is what makes a re-run a no-op). With
    `delete_missing`, existing rows whose key is not desired are deleted. Returns the
    pk of every desired key.
    """
    if existing:
        new_keys = [key for key in desired if key not in existing]
        new_rows = [desired[key] for key in new_keys]
    else:
        new_keys, new_rows = list(desired), list(desired.values())
    ids = table.insert(new_rows)
    changed = [
        (pk, desired[key])
        for key, (pk, current) in existing.items()
        if key in desired and current != desired[key]
    ]
    table.update(changed)
    stale = (
        [pk for key, (pk, _row) in existing.items() if key not in desired] if delete_missing else []
    )
    if stale:
        table.delete(stale)
    pks = dict(zip(new_keys, ids, strict=True))
    for key, (pk, _row) in existing.items():
        if key in desired:
            pks[key] = pk
    return pks, SyncCounts(created=len(new_keys), updated=len(changed), deleted=len(stale))


def _key_condition(model: type[models.Model], key: str) -> tuple[str, Callable[[list[Any]], Any]]:
    """SQL matching `key` against one parameter holding every wanted value.

    One parameter instead of thousands of IN placeholders: the database plans it faster
    and the ORM does not process each value. The values go as JSON text on both
    databases: `json.dumps` writes a list in C, where psycopg's array dumper escapes
    each value in Python.
    """
    target = model._meta.pk if key == "pk" else concrete_field(model, key)
    quote = connection.ops.quote_name
    column = f"{quote(model._meta.db_table)}.{quote(target.column or target.attname)}"
    if connection.vendor == "postgresql":
        array = (
            f"ARRAY(SELECT jsonb_array_elements_text(%s::jsonb))::{target.db_type(connection)}[]"
        )
        return f"{column} = ANY({array})", json.dumps
    if connection.vendor == "sqlite":
        return f"{column} IN (SELECT value FROM json_each(%s))", json.dumps  # noqa: S608
    raise ImproperlyConfigured(
        f"bulk imports support SQLite and PostgreSQL, not {connection.vendor}"
    )


_ANALYZED: dict[str, float] = {}


def fresh_statistics(model: type[models.Model]) -> None:
    """On PostgreSQL, ANALYZE a table whose rows changed a lot since its last statistics.

    A bulk import grows tables far faster than autovacuum re-samples them; with statistics
    that still say "a few rows", the planner scans a million-row table for every batch's
    key lookup instead of using its index. Checked at most every few seconds per table.
    """
    if connection.vendor != "postgresql":
        return
    table = model._meta.db_table
    now = time.monotonic()
    if now - _ANALYZED.get(table, -1e9) < 5:
        return
    _ANALYZED[table] = now
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.reltuples, s.n_mod_since_analyze FROM pg_class c "
            "JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.relname = %s",
            [table],
        )
        found = cursor.fetchone()
        if found is None:
            return
        known, changed = max(found[0], 0), found[1] or 0
        # Below some tens of thousands of rows any plan is quick; past that, re-sample
        # whenever a fifth of the table is new.
        if changed > max(50_000, 0.2 * known):
            cursor.execute(f'ANALYZE "{table}"')


# Rows written per table by BulkTable since the last `statistics_refresh` (any thread).
_written: Counter[str] = Counter()
_written_lock = threading.Lock()


def _count_written(table: str, rows: int) -> None:
    with _written_lock:
        _written[table] += rows


def statistics_refresh() -> list[str]:
    """On PostgreSQL, ANALYZE now every table the importers wrote more rows to than
    autovacuum's default threshold (50 rows plus a tenth of the table as last sampled),
    and return their names.

    Autovacuum gets there eventually, on its own schedule, and not at all where it is
    turned off; until then the planner still believes the tables are as small as they
    were, and the first requests after an import (a customer's signals, a segment count)
    scan whole tables where an index would answer in a millisecond.

    Outside a transaction it is VACUUM (ANALYZE), as PostgreSQL's manual advises after a
    bulk load: it also marks the new pages all-visible, without which an index-only scan
    (the identity lookups of the next import, for one) still reads every row's page.
    It costs about a third more than ANALYZE alone on freshly written tables. Call it
    after a synchronous commit: rows whose (asynchronous, `import_session`) commit is not
    yet flushed cannot be marked visible to all.
    """
    with _written_lock:
        written = dict(_written)
        _written.clear()
    if connection.vendor != "postgresql" or not written:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE relkind = 'r' "
            "AND relnamespace = current_schema()::regnamespace AND relname = ANY(%s)",
            [list(written)],
        )
        known = {name: max(tuples, 0) for name, tuples in cursor.fetchall()}
        tables = sorted(t for t in known if written[t] > 50 + 0.1 * known[t])
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        for table in tables:
            cursor.execute(f"{command} {connection.ops.quote_name(table)}")
    _ANALYZED.update(dict.fromkeys(tables, time.monotonic()))
    return tables


def fetch_by(
    model: type[models.Model], key: str, keys: Iterable[Any], fields: Sequence[str], **filters: Any
) -> list[Row]:
    """Rows (as `values_list(*fields)`, so values converted like the ORM's) whose `key` is
    in `keys`, queried in chunks."""
    unique = list(dict.fromkeys(keys))
    if not unique:
        return []
    template, pack = _key_condition(model, key)
    fresh_statistics(model)
    found: list[Row] = []
    manager = model._default_manager
    for part in chunked(unique):
        condition = RawSQL(template, (pack(list(part)),), output_field=models.BooleanField())  # noqa: S611
        found.extend(manager.filter(condition, **filters).order_by().values_list(*fields))
    return found


def lookup(
    model: type[models.Model], key: str, keys: Iterable[Any], columns: Sequence[str], **equal: Any
) -> list[Row]:
    """Like `fetch_by` for plain text and integer columns, without the ORM: raw rows.

    For the hot path of matching keys (identities, SKUs, external ids) to primary keys.
    """
    unique = list(dict.fromkeys(keys))
    if not unique:
        return []
    template, pack = _key_condition(model, key)
    fresh_statistics(model)
    opts = model._meta
    quote = connection.ops.quote_name

    def column_of(name: str) -> str:
        field = opts.pk if name == "pk" else concrete_field(model, name)
        return f"{quote(opts.db_table)}.{quote(field.column or field.attname)}"

    select = ", ".join(column_of(name) for name in columns)
    where = [template] + [f"{column_of(name)} = %s" for name in equal]
    sql = f"SELECT {select} FROM {quote(opts.db_table)} WHERE {' AND '.join(where)}"  # noqa: S608
    found: list[Row] = []
    with connection.cursor() as cursor:
        for part in chunked(unique):
            cursor.execute(sql, [pack(list(part)), *equal.values()])
            found.extend(cursor.fetchall())
    return found


@contextmanager
def import_session() -> Iterator[None]:
    """Database settings for a long import, restored afterwards.

    PostgreSQL: `synchronous_commit = off` stops each batch's commit from waiting for its
    WAL flush. A crash can then lose the last moments of committed batches but never
    corrupts anything or splits a batch, and re-running the import (idempotent) restores
    them. PostgreSQL's statistics are refreshed as tables grow (see `fresh_statistics`).
    SQLite: a page cache of up to 1 GiB (allocated only as pages are read) and memory-mapped
    reads keep the indexes being filled and searched in memory, and checkpoints wait for
    100 MB of write-ahead log instead of 4 MB, so index pages changed by many batches are
    copied back to the database file once rather than every time; durability settings are
    left alone.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW synchronous_commit")
            previous = cursor.fetchone()[0]
            cursor.execute("SET synchronous_commit = off")
            restore: list[tuple[str, list[Any] | None]] = [
                ("SELECT set_config('synchronous_commit', %s, false)", [previous])
            ]
        else:
            cursor.execute("PRAGMA cache_size")
            cache_size = int(cursor.fetchone()[0])
            cursor.execute("PRAGMA wal_autocheckpoint")
            checkpoint = int(cursor.fetchone()[0])
            cursor.execute("PRAGMA mmap_size")
            mmap_size = int(cursor.fetchone()[0])
            cursor.execute("PRAGMA cache_size = -1048576")
            cursor.execute("PRAGMA wal_autocheckpoint = 25000")
            cursor.execute("PRAGMA mmap_size = 4294967296")
            restore = [
                (f"PRAGMA cache_size = {cache_size}", None),
                (f"PRAGMA wal_autocheckpoint = {checkpoint}", None),
                (f"PRAGMA mmap_size = {mmap_size}", None),
            ]
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for sql, params in restore:
                cursor.execute(sql, params)
