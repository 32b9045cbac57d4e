"""Field types the API schemas share: money as decimal strings, times as ISO-8601 UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, ConfigDict, Field, PlainSerializer, WithJsonSchema


def _decimal_string(value: Decimal) -> str:
    # format(..., "f") never switches to exponent notation ("1E+2"), unlike str().
    return format(value, "f")


def _utc_string(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


DecimalStr = Annotated[
    Decimal,
    PlainSerializer(_decimal_string, return_type=str),
    WithJsonSchema({"type": "string", "format": "decimal", "examples": ["19.90"]}),
]
"""A money amount on the way out: a decimal string, never a JSON number."""

UtcDatetime = Annotated[
    datetime,
    PlainSerializer(_utc_string, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2025-01-31T09:30:00Z"]}),
]
"""A time on the way out: ISO-8601 in UTC with a Z suffix."""

AmountIn = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2, description='Decimal string, e.g. "19.90".'),
]
"""A money amount on the way in: a decimal string (or JSON number), at least 0, 2 places."""

AwareDatetimeIn = Annotated[
    AwareDatetime, Field(description="ISO-8601 with a time zone, e.g. 2025-01-31T09:30:00Z.")
]

STRICT_INPUT = ConfigDict(extra="forbid", str_strip_whitespace=True)
"""Input schemas refuse unknown fields so a typo is a 422 rather than silently ignored."""
