"""Serving: the "for you" list of a customer, with its explanation.

Every personal list is computed the same way (docs/recommendations-serving.md): the
customer's signals x (signed, recency-decayed weights read fresh from the database, so a
rating or a "not interested" counts at once) times the active run's item x item weights W.
score_j = sum_i x_i W[i, j], and the explanation of j is that sum's decomposition: its causes
are the customer's items with the largest positive contributions. Bought products are left
out (unless they are bought again and again, like coffee), so are products the customer
said no to, and a short list is filled from cold-start lists: popular in the customer's
country, then language, then trending, then popular overall.

Per request: the customer (one query), their signals and feedback (one statement,
serving_signals.py; weighed by omnicrm.recommendations.signals exactly as training weighs
them) and the shown products' current title, price and stock (one query). Everything else
comes from the process's cached snapshot of the run (serving_cache.py). Anonymous visitors:
serving_anonymous.py; "why was I recommended this?": serving_why.py; lists that are not
about one customer: serving_lists.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from django.db import connection
from django.utils import timezone
from django.utils.translation import get_language_info
from django.utils.translation import gettext as _

from omnicrm.catalog.models import Category
from omnicrm.core.errors import NotFound
from omnicrm.customers.models import Customer
from omnicrm.customers.services import customer_ensure_live
from omnicrm.importers.bulk import concrete_field
from omnicrm.recommendations.algorithms.scoring import score_history
from omnicrm.recommendations.explain import (
    Cause,
    because_sentence,
    list_reason_text,
    signal_text,
)
from omnicrm.recommendations.models import ListKind
from omnicrm.recommendations.selectors import country_scope, language_scope
from omnicrm.recommendations.serving_cache import (
    Snapshot,
    category_descendants,
    category_tree,
    snapshot_current,
)
from omnicrm.recommendations.serving_products import ProductCard, live_popular, product_cards
from omnicrm.recommendations.serving_signals import customer_signal_sources
from omnicrm.recommendations.signals import (
    Signal,
    signals_combine,
    signals_for,
)

MAX_LIMIT = 100
# How many history items name the causes of one recommendation.
N_CAUSES = 2
# Candidates asked of the model beyond the limit, for the ones a fresh read drops
# (sold out with in_stock, no longer sold, moved out of the category).
SPARE = 10


@dataclass(frozen=True)
class Filters:
    """What the caller narrows the list to."""

    limit: int = 10
    in_stock: bool = False
    category_pk: int | None = None


@dataclass(frozen=True)
class CauseItem:
    """One of the customer's products behind a recommendation, and how they touched it."""

    product: str
    title: str
    signal: str
    rating: int | None
    text: str
    contribution: float


@dataclass(frozen=True)
class Recommendation:
    product: ProductCard
    score: float
    reason_kind: str
    reason_text: str
    causes: tuple[CauseItem, ...] = ()
    support: int | None = None
    confidence: float | None = None
    lift: float | None = None


@dataclass(frozen=True)
class RecommendationList:
    """A served list: which run produced it (None: no training yet) and its items."""

    model: str | None
    trained_at: datetime | None
    items: list[Recommendation]
    customer: str | None = None


@dataclass
class History:
    """A customer's signals as arrays over the snapshot's rows, ready for scoring.

    ``bought`` are not recommended again unless they are repeat-purchase products;
    ``blocked`` never are (feedback given on them, or rated 1 or 2)."""

    signals: dict[int, Signal] = field(default_factory=dict)
    rows: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    strengths: np.ndarray = field(default_factory=lambda: np.empty(0))
    bought: set[int] = field(default_factory=set)
    blocked: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Candidate:
    """An item that may be shown: its product pk, score, reason and (row, contribution)
    causes as the model gave them."""

    pk: int
    score: float
    reason: str
    causes: tuple[tuple[int, float], ...] = ()
    details: dict = field(default_factory=dict)
    support: int | None = None
    confidence: float | None = None
    lift: float | None = None
    title: str = ""  # the product a "similar" or "together" reason names


def _signal_text(signal: Signal) -> tuple[str, int | None]:
    """The signal a cause is named by: a rating only when it is a good one."""
    if signal.rating is not None and signal.rating >= 4:
        return "rated", signal.rating
    for kind in signal.kinds:
        if kind != "rated":
            return kind, None
    return "bought", None


def history_of(snapshot: Snapshot, signals: list[Signal], feedback: Iterable[int]) -> History:
    by_product = {s.product_pk: s for s in signals}
    pks = np.fromiter(by_product, np.int64, len(by_product))
    rows = snapshot.rows_of(pks)
    strengths = np.fromiter((s.weight for s in by_product.values()), np.float64, len(pks))
    known = rows >= 0
    blocked = {int(p) for p in feedback}
    blocked.update(s.product_pk for s in signals if s.rating is not None and s.rating <= 2)
    return History(
        signals=by_product,
        rows=rows[known],
        strengths=strengths[known],
        bought={s.product_pk for s in signals if s.purchases > 0},
        blocked=blocked,
    )


def customer_history(snapshot: Snapshot, customer_pk: int, now: datetime) -> History:
    """The customer's signals, read fresh: feedback given a second ago already counts."""
    sources = customer_signal_sources(customer_pk=customer_pk, now=now)
    signals = signals_for(signals_combine(sources))
    # The feedback rows are read with the signals: an excluded purchase is still a purchase
    # and a "not interested" product is never shown, so both are blocked.
    return history_of(snapshot, signals, sources.excluded[1].tolist())


def _skip_rows(snapshot: Snapshot, history: History) -> np.ndarray:
    """Snapshot rows never to recommend to this history."""
    bought = snapshot.rows_of(sorted(history.bought))
    bought = bought[bought >= 0]
    # Repeat-purchase products (coffee) may come back after a purchase.
    bought = bought[~snapshot.repeat[bought]]
    blocked = snapshot.rows_of(sorted(history.blocked))
    return np.unique(np.concatenate([bought, blocked[blocked >= 0]]))


def category_allowed(snapshot: Snapshot, category_pk: int | None) -> np.ndarray | None:
    """Bool per snapshot row: in the category or below it (None: no category filter)."""
    if category_pk is None:
        return None
    allowed = np.fromiter(category_descendants(category_pk), np.int64)
    return np.isin(snapshot.categories, allowed)


def _scored(
    snapshot: Snapshot,
    W: sp.csr_matrix,
    history: History,
    *,
    n: int,
    skip: np.ndarray,
    allowed: np.ndarray | None,
) -> list[Candidate]:
    """The best items for the history under W, each with its causes (snapshot rows)."""
    if not history.rows.size or W.nnz == 0:
        return []
    exclude = [skip]
    if allowed is not None:
        # Only the columns the history reaches can score: exclude those outside the
        # category rather than the whole catalog.
        touched = np.unique(W[history.rows].indices)
        exclude.append(touched[~allowed[touched]])
    scored = score_history(
        W,
        history.rows,
        history.strengths,
        exclude=np.unique(np.concatenate(exclude)),
        n=n,
        n_causes=N_CAUSES,
    )
    return [
        Candidate(pk=int(snapshot.pks[s.item]), score=s.score, reason="", causes=s.causes)
        for s in scored
    ]


def fill_sources(country: str, language: str) -> list[tuple[str, str, str]]:
    """(list kind, scope, reason kind) of the cold-start lists, in the order they fill.
    The scopes are normalized as training wrote them ("vi-VN" -> "language:vi")."""
    sources = []
    country_list, language_list = country_scope(country), language_scope(language)
    if country_list:
        sources.append((ListKind.POPULAR.value, country_list, "popular_country"))
    if language_list:
        sources.append((ListKind.POPULAR.value, language_list, "popular_language"))
    sources.append((ListKind.TRENDING.value, "", "trending"))
    sources.append((ListKind.POPULAR.value, "", "popular"))
    return sources


def list_candidates(
    snapshot: Snapshot,
    sources: Sequence[tuple[str, str, str]],
    *,
    want: int,
    skip: set[int],
    allowed: np.ndarray | None,
) -> list[Candidate]:
    """Up to ``want`` items of each cold-start list not already taken, in fill order.
    Without a trained run: popular overall, computed live from orders."""
    out: list[Candidate] = []
    if snapshot.model_pk is None:
        for pk, score in live_popular(limit=want + len(skip)):
            if pk not in skip:
                out.append(Candidate(pk=pk, score=score, reason="popular"))
                skip.add(pk)
        return out
    for kind, scope, reason in sources:
        entries = snapshot.list_entries(kind, scope)
        taken = 0
        for row, score, details in zip(
            entries.rows.tolist(), entries.scores.tolist(), entries.details, strict=True
        ):
            pk = int(snapshot.pks[row])
            if pk in skip or (allowed is not None and not allowed[row]):
                continue
            skip.add(pk)
            out.append(Candidate(pk=pk, score=score, reason=reason, details=details))
            taken += 1
            if taken >= want:
                break
    return out


def language_name(code: str) -> str:
    try:
        return str(get_language_info(code)["name_translated"])
    except KeyError:
        return code


def _cause(
    cards: dict[int, ProductCard], history: History, pk: int, contribution: float
) -> CauseItem | None:
    card = cards.get(pk)
    signal = history.signals.get(pk)
    if card is None or signal is None:
        return None
    kind, rating = _signal_text(signal)
    return CauseItem(
        product=card.public_id,
        title=card.title,
        signal=kind,
        rating=rating,
        text=signal_text(kind, rating),
        contribution=round(contribution, 6),
    )


def shown(card: ProductCard | None, filters: Filters) -> bool:
    """Whether a product passes the fresh checks: still sold, in stock when asked, in the
    category when asked (its category may have changed since training)."""
    if card is None or not card.is_active:
        return False
    if filters.in_stock and not card.in_stock:
        return False
    return filters.category_pk is None or (
        card.category_pk is not None
        and card.category_pk in category_descendants(filters.category_pk)
    )


def assemble(
    snapshot: Snapshot,
    candidates: Sequence[Candidate],
    *,
    filters: Filters,
    history: History | None = None,
    country: str = "",
    language: str = "",
) -> list[Recommendation]:
    """Turn candidates into recommendations: one query reads every product shown or named
    as a cause; the fresh filters drop some; the first ``limit`` that remain are kept."""
    cause_pks = {int(snapshot.pks[row]) for c in candidates for row, _x in c.causes}
    cards = product_cards({c.pk for c in candidates} | cause_pks)
    items: list[Recommendation] = []
    taken: set[int] = set()
    for candidate in candidates:
        if len(items) >= filters.limit:
            break
        card = cards.get(candidate.pk)
        if card is None or candidate.pk in taken or not shown(card, filters):
            continue
        if candidate.causes and history is not None:
            causes = [
                _cause(cards, history, int(snapshot.pks[row]), contribution)
                for row, contribution in candidate.causes
            ]
            cause_items = tuple(c for c in causes if c is not None)
            if not cause_items:
                continue
            reason = candidate.reason or cause_items[0].signal
            text = because_sentence(
                [Cause(0, c.product, c.title, c.signal, c.rating) for c in cause_items]
            )
        else:
            cause_items = ()
            reason = candidate.reason
            text = list_reason_text(
                reason,
                country=country,
                language=language_name(language),
                category=card.category_name or "",
                title=candidate.title,
                details=candidate.details,
            )
        items.append(
            Recommendation(
                product=card,
                score=round(float(candidate.score), 6),
                reason_kind=reason,
                reason_text=text,
                causes=cause_items,
                support=candidate.support,
                confidence=candidate.confidence,
                lift=candidate.lift,
            )
        )
        taken.add(candidate.pk)
    return items


# ---------------------------------------------------------------------------------------
# Entry points


_CUSTOMER_COLUMNS = ("id", "public_id", "name", "country", "language", "merged_into", "erased_at")


def _customer_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(concrete_field(Customer, c).column)) for c in _CUSTOMER_COLUMNS)
    table = quote(Customer._meta.db_table)
    return f"SELECT {columns} FROM {table} WHERE {quote('public_id')} = %s"  # noqa: S608


def customer_for_serving(*, public_id: str) -> Customer:
    """The customer a customer id names: 404 when unknown, 409 ``customer_merged`` (naming
    the profile that holds their data now) when merged, as every customer read does.

    Read with one prepared statement (no queryset to compile: this runs on every "for you"
    request); the instance carries only the columns serving reads."""
    with connection.cursor() as cursor:
        cursor.execute(_customer_sql(), [public_id])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(_("no customer with id %(id)s") % {"id": public_id}, field="customer_id")
    pk, public, name, country, language, merged_into, erased_at = row
    # Serving only asks whether the profile was erased, never when.
    customer = Customer(
        pk=pk,
        public_id=public,
        name=name,
        country=country,
        language=language,
        merged_into_id=merged_into,
        erased_at=erased_at,
    )
    customer_ensure_live(customer)
    return customer


def category_for_filter(slug: str) -> int | None:
    """The category pk a ``category`` filter names (None for no filter); 404 otherwise."""
    slug = slug.strip()
    if not slug:
        return None
    for pk, (known, _name, _parent) in category_tree().items():
        if known == slug:
            return pk
    # The tree is cached for a minute: a category created since is still found.
    found = Category.objects.filter(slug=slug).values_list("pk", flat=True).first()
    if found is None:
        raise NotFound(_("no category with slug %(slug)s") % {"slug": slug}, field="category")
    return int(found)


def for_history(
    snapshot: Snapshot,
    history: History,
    W: sp.csr_matrix,
    *,
    filters: Filters,
    country: str,
    language: str,
) -> list[Recommendation]:
    """The list for a history under W: scored items first, then the cold-start fill."""
    allowed = category_allowed(snapshot, filters.category_pk)
    skip = _skip_rows(snapshot, history)
    want = filters.limit + SPARE
    candidates = _scored(snapshot, W, history, n=want, skip=skip, allowed=allowed)
    if len(candidates) < want:
        taken = {int(p) for p in snapshot.pks[skip]} | {c.pk for c in candidates}
        taken |= history.blocked
        candidates += list_candidates(
            snapshot,
            fill_sources(country, language),
            want=want,
            skip=taken,
            allowed=allowed,
        )
    return assemble(
        snapshot, candidates, filters=filters, history=history, country=country, language=language
    )


def recommend_for_customer(
    *, customer: Customer, filters: Filters, now: datetime | None = None
) -> RecommendationList:
    """The "for you" list of a customer, each item with its reason and causes."""
    now = now or timezone.now()
    snapshot = snapshot_current()
    # An erased profile keeps no history to personalize with.
    history = (
        History()
        if customer.erased_at is not None
        else customer_history(snapshot, customer.pk, now)
    )
    items = for_history(
        snapshot,
        history,
        snapshot.personal,
        filters=filters,
        country=customer.country,
        language=customer.language,
    )
    return RecommendationList(
        model=snapshot.model_public_id,
        trained_at=snapshot.finished_at,
        items=items,
        customer=customer.public_id,
    )
