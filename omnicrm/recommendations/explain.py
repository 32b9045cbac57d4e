"""The sentences that explain a recommendation: "Because you bought Arabica Beans 1kg and
rated Moka Pot 5 stars".

A "for you" score is a sum of contributions, one per item of the customer's history
(omnicrm.recommendations.serving); the causes are the items with the largest positive
contributions, and this module only turns them into words. Every phrase is a whole
translatable unit with named placeholders, so translators can reorder it; lists of titles
are joined with the language's own "A, B and C".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

# How a customer touched a product, strongest first: a good rating says more than a purchase,
# a purchase more than a wish, a wish more than a cart, a cart more than a view.
SIGNAL_ORDER = ("rated", "bought", "wished", "carted", "viewed")


@dataclass(frozen=True)
class Cause:
    """One item of the customer's history that pushed a recommendation up."""

    product_pk: int
    public_id: str
    title: str
    signal: str  # one of SIGNAL_ORDER
    rating: int | None = None
    contribution: float = 0.0


def join_list(items: Sequence[str]) -> str:
    """["A"] -> "A", ["A", "B"] -> "A and B", ["A", "B", "C"] -> "A, B and C"."""
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return _("%(first)s and %(second)s") % {"first": items[0], "second": items[1]}
    separator = pgettext("list separator", ", ")
    return _("%(items)s and %(last)s") % {
        "items": separator.join(items[:-1]),
        "last": items[-1],
    }


def signal_text(signal: str, rating: int | None = None) -> str:
    """How the customer touched an item, for the cause list: "rated 5 stars", "bought"."""
    if signal == "rated" and rating is not None:
        return ngettext("rated %(stars)d star", "rated %(stars)d stars", rating) % {"stars": rating}
    # One branch per text, so only the text needed is translated (this runs per cause).
    if signal == "bought":
        return _("bought")
    if signal == "wished":
        return _("on the wishlist")
    if signal == "carted":
        return _("added to cart")
    if signal == "viewed":
        return _("viewed")
    if signal == "rated":
        return _("rated")
    return signal


def _action(signal: str, rating: int | None, titles: Sequence[str]) -> str:
    """One verb phrase of the "because" sentence, for every title touched the same way."""
    joined = join_list(titles)
    if signal == "rated" and rating is not None:
        return ngettext(
            "rated %(titles)s %(stars)d star", "rated %(titles)s %(stars)d stars", rating
        ) % {"titles": joined, "stars": rating}
    if signal == "wished":
        return _("added %(titles)s to your wishlist") % {"titles": joined}
    if signal == "carted":
        return _("added %(titles)s to your cart") % {"titles": joined}
    if signal == "viewed":
        return _("viewed %(titles)s") % {"titles": joined}
    return _("bought %(titles)s") % {"titles": joined}


def because_sentence(causes: Sequence[Cause]) -> str:
    """ "Because you bought A and B and rated C 5 stars": causes touched the same way share
    one verb, in the order of their first appearance (the largest contribution first)."""
    groups: dict[tuple[str, int | None], list[str]] = {}
    for cause in causes:
        key = (cause.signal, cause.rating if cause.signal == "rated" else None)
        groups.setdefault(key, []).append(cause.title)
    actions = [_action(signal, rating, titles) for (signal, rating), titles in groups.items()]
    if not actions:
        return ""
    return _("Because you %(actions)s") % {"actions": join_list(actions)}


def list_reason_text(
    kind: str,
    *,
    category: str = "",
    country: str = "",
    language: str = "",
    title: str = "",
    details: dict | None = None,
) -> str:
    """The sentence of a reason that is not the customer's own history."""
    details = details or {}
    if kind == "similar":
        if title:
            return _("Customers who bought %(title)s also bought this") % {"title": title}
        return _("Customers who bought this also bought these")
    if kind == "together":
        return _("Frequently bought together with %(title)s") % {"title": title}
    if kind == "content":
        return _("Similar to %(title)s") % {"title": title}
    if kind == "trending":
        return _("Trending in the shop right now")
    if kind == "best_seller":
        if category:
            return _("A best seller in %(category)s") % {"category": category}
        return _("One of the shop's best sellers")
    if kind == "top_rated":
        average, count = details.get("average"), details.get("count")
        if isinstance(average, int | float) and isinstance(count, int) and count > 0:
            return ngettext(
                "Rated %(average).1f out of 5 by %(count)d customer",
                "Rated %(average).1f out of 5 by %(count)d customers",
                count,
            ) % {"average": average, "count": count}
        return _("One of the shop's top rated products")
    if kind == "most_wished":
        return _("Often added to wishlists")
    if kind == "popular_country":
        return _("Popular with customers in %(country)s") % {"country": country}
    if kind == "popular_language":
        return _("Popular with customers who speak %(language)s") % {"language": language}
    return _("Popular in the shop")
