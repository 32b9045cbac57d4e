"""Cursor (keyset) pagination for API lists.

A page is fetched with `WHERE (ordering) after (values of the last row seen)`, so rows
inserted while a client walks the list never shift a page: every row that existed when
the walk began is seen exactly once. The cursor holds the last row's ordering values,
signed with SECRET_KEY so a client cannot forge one that reaches rows a filter excluded.

Use from a Ninja handler::

    @router.get("", response=Page[CustomerListOut])
    def customer_list(request, query: Query[CustomerListQuery]):
        qs = selectors.customer_list(search=query.q)
        return paginate(qs, cursor=query.cursor, limit=query.limit,
                        ordering=("-id",), namespace="customers").as_response()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from django.core import signing
from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext as _
from ninja import Field, Schema

from omnicrm.core.errors import ValidationFailed

T = TypeVar("T")
M = TypeVar("M", bound=Model)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_SALT = "omnicrm.pagination.cursor"
_UNIQUE_TAIL = {"id", "-id", "pk", "-pk"}


class CursorQuery(Schema):
    """Query parameters every paginated list accepts; extend it with the list's filters."""

    cursor: str | None = Field(
        None, description="`next_cursor` of the previous page; omit for the first page."
    )
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Rows per page, 1-200.")


class Page(Schema, Generic[T]):
    """One page of a list; `next_cursor` is null on the last page."""

    data: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class CursorPage(Generic[M]):
    items: list[M]
    next_cursor: str | None

    def as_response(self) -> dict[str, Any]:
        return {"data": self.items, "next_cursor": self.next_cursor}


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _field_name(term: str) -> str:
    name = term.lstrip("-")
    return "id" if name == "pk" else name


def _after(ordering: Sequence[str], values: list[Any]) -> Q:
    """Rows strictly after `values` in `ordering`: a lexicographic keyset condition."""
    condition = Q()
    for i, term in enumerate(ordering):
        name = _field_name(term)
        op = "lt" if term.startswith("-") else "gt"
        step = Q(**{f"{name}__{op}": values[i]})
        for j in range(i):
            step &= Q(**{_field_name(ordering[j]): values[j]})
        condition |= step
    return condition


def _invalid_cursor() -> ValidationFailed:
    return ValidationFailed(
        _("the cursor is invalid; use the next_cursor of the previous page unchanged"),
        field="cursor",
    )


def cursor_decode(
    cursor: str, *, namespace: str, model: type[Model], ordering: Sequence[str]
) -> list[Any]:
    try:
        payload = signing.loads(cursor, salt=_SALT)
    except signing.BadSignature:
        raise _invalid_cursor() from None
    if (
        not isinstance(payload, dict)
        or payload.get("n") != namespace
        or payload.get("o") != list(ordering)
        or not isinstance(payload.get("v"), list)
        or len(payload["v"]) != len(ordering)
    ):
        raise _invalid_cursor()
    try:
        fields: list[Any] = [model._meta.get_field(_field_name(term)) for term in ordering]
        return [field.to_python(raw) for field, raw in zip(fields, payload["v"], strict=True)]
    except Exception:
        raise _invalid_cursor() from None


def cursor_encode(obj: Model, *, namespace: str, ordering: Sequence[str]) -> str:
    values = [_encode_value(getattr(obj, _field_name(term))) for term in ordering]
    return signing.dumps({"n": namespace, "o": list(ordering), "v": values}, salt=_SALT)


def paginate(
    queryset: QuerySet[M],
    *,
    cursor: str | None,
    limit: int = DEFAULT_LIMIT,
    ordering: Sequence[str],
    namespace: str,
) -> CursorPage[M]:
    """One page of `queryset` in `ordering`, after `cursor` when one is given.

    `ordering` must name non-null model fields and end with the primary key so every row
    has a distinct position. `namespace` ties a cursor to its list.
    """
    if not ordering or ordering[-1] not in _UNIQUE_TAIL:
        raise ValueError("cursor pagination needs an ordering that ends with the primary key")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(
            _("limit must be between 1 and %(max)s") % {"max": MAX_LIMIT}, field="limit"
        )
    qs = queryset.order_by(*ordering)
    if cursor:
        values = cursor_decode(cursor, namespace=namespace, model=queryset.model, ordering=ordering)
        qs = qs.filter(_after(ordering, values))
    rows = list(qs[: limit + 1])
    items = rows[:limit]
    next_cursor = (
        cursor_encode(items[-1], namespace=namespace, ordering=ordering)
        if len(rows) > limit
        else None
    )
    return CursorPage(items=items, next_cursor=next_cursor)
