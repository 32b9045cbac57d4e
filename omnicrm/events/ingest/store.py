"""Durably store validated events: one statement per batch, committed before the answer.

PostgreSQL gets ``INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING RETURNING
id`` with binary parameters: a fixed number of them whatever the batch size, one round trip, and
the unique (source, message_id) index makes a retried batch store nothing twice. SQLite gets
the same INSERT with a VALUES list, in chunks under its parameter limit. No ORM object is
built per event. Processing is queued after the commit for the rows that were new.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.db import connection, transaction

from omnicrm.events.ingest.messages import Row
from omnicrm.events.models import Event, Source

logger = logging.getLogger(__name__)

TABLE = Event._meta.db_table
COLUMNS = (
    "source_id",
    "message_id",
    "type",
    "event",
    "user_id",
    "anonymous_id",
    "previous_id",
    "channel",
    "properties",
    "traits",
    "context",
    "timestamp",
    "original_timestamp",
    "received_at",
    "attempts",
    "error",
)
# 16 columns x 1,000 rows stays under SQLite's 32,766 bound parameters.
SQLITE_CHUNK = 1000

# Table and column names are constants of this module, never input. The parameters are
# sent in binary (%b): the text form of 400 JSON documents in an array costs more to quote
# and parse than the whole INSERT does.
_PG_INSERT = f"""
INSERT INTO {TABLE} ({", ".join(COLUMNS)})
SELECT %b, m, t, e, u, a, p, %b, pr::jsonb, tr::jsonb, cx::jsonb, ts, ots, %b, 0, ''
FROM unnest(
    %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
    %b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::timestamptz[]
) AS x(m, t, e, u, a, p, pr, tr, cx, ts, ots)
ON CONFLICT (source_id, message_id) DO NOTHING
RETURNING id
"""  # noqa: S608


@dataclass(frozen=True)
class IngestResult:
    received: int
    stored_ids: list[int]

    @property
    def duplicates(self) -> int:
        return self.received - len(self.stored_ids)


def _insert_postgresql(*, source: Source, rows: list[Row], received_at: datetime) -> list[int]:
    import psycopg

    # Django's own cursor binds parameters client-side (as SQL text); a plain psycopg
    # cursor on the same connection, inside the same transaction, binds them server-side.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            _PG_INSERT,
            [
                source.pk,
                source.channel,
                received_at,
                [r.message_id for r in rows],
                [r.type for r in rows],
                [r.event for r in rows],
                [r.user_id for r in rows],
                [r.anonymous_id for r in rows],
                [r.previous_id for r in rows],
                [r.properties for r in rows],
                [r.traits for r in rows],
                [r.context for r in rows],
                [r.timestamp for r in rows],
                [r.original_timestamp for r in rows],
            ],
        )
        return [row[0] for row in cursor.fetchall()]


def _insert_generic(*, rows: list[Row], source: Source, received_at: datetime) -> list[int]:
    adapt = connection.ops.adapt_datetimefield_value
    received = adapt(received_at)
    placeholders = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
    ids: list[int] = []
    for start in range(0, len(rows), SQLITE_CHUNK):
        chunk = rows[start : start + SQLITE_CHUNK]
        params: list[Any] = []
        for r in chunk:
            params.extend(
                (
                    source.pk,
                    r.message_id,
                    r.type,
                    r.event,
                    r.user_id,
                    r.anonymous_id,
                    r.previous_id,
                    source.channel,
                    r.properties,
                    r.traits,
                    r.context,
                    adapt(r.timestamp),
                    adapt(r.original_timestamp) if r.original_timestamp else None,
                    received,
                    0,
                    "",
                )
            )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES "  # noqa: S608
                + ", ".join([placeholders] * len(chunk))
                + " ON CONFLICT (source_id, message_id) DO NOTHING RETURNING id",
                params,
            )
            ids.extend(row[0] for row in cursor.fetchall())
    return ids


def _enqueue_processing(event_ids: list[int]) -> None:
    from omnicrm.events.tasks import events_process

    try:
        events_process.enqueue(event_ids=event_ids)
    except Exception:
        # The events are committed; the periodic sweep processes whatever was not queued.
        logger.exception("could not queue processing of %s events", len(event_ids))


def events_ingest(*, source: Source, rows: list[Row], received_at: datetime) -> IngestResult:
    """Insert the rows for ``source`` in one transaction; duplicates (same source and
    messageId, from a retry) are skipped. Returns once the transaction has committed."""
    if not rows:
        return IngestResult(received=0, stored_ids=[])
    with transaction.atomic():
        if connection.vendor == "postgresql":
            ids = _insert_postgresql(source=source, rows=rows, received_at=received_at)
        else:
            ids = _insert_generic(source=source, rows=rows, received_at=received_at)
        if ids:
            transaction.on_commit(partial(_enqueue_processing, sorted(ids)))
    return IngestResult(received=len(rows), stored_ids=ids)
