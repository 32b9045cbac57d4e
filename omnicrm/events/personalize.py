"""The greeting a shop's site shows a visitor: "Welcome back, Hà", in their language.

What the site may learn is deliberately small: a greeting text, whether the visitor was
recognised, and the language used. Nothing else about the profile leaves.

Who may ask about whom (see docs/adr/0005-event-ingestion.md):

* With a source's write key (public: it sits in the page), the visitor is named by their
  anonymousId, the random id in their own first-party cookie. A userId alone is not
  enough, since user ids can be guessed (1, 2, 3... or an email); when a userId comes with
  the anonymousId it must name the same profile.
* With an API key holding the ``read`` scope (the shop's server), a userId alone is enough.

A visitor who withdrew tracking consent gets the neutral greeting: the greeting is
personalization, and they said no to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from omnicrm.customers.models import Customer
from omnicrm.customers.resolution import identity_lookup

SUPPORTED = tuple(code for code, _name in settings.LANGUAGES)


@dataclass(frozen=True)
class Greeting:
    greeting: str
    known: bool
    language: str


def language_pick(*candidates: str) -> str:
    """The first candidate omnicrm speaks ("vi-VN" -> "vi", "zh-CN" -> "zh-hans")."""
    for candidate in candidates:
        code = (candidate or "").strip().replace("_", "-").lower()
        if not code:
            continue
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


# Letters only Vietnamese writes: đ, ă, ơ, ư and the stacked tone marks of U+1EA0-U+1EF9.
_VIETNAMESE_LETTERS = frozenset("đĐăĂơƠưƯ") | frozenset(map(chr, range(0x1EA0, 0x1EFA)))


def given_name(customer: Customer) -> str:
    """The name a greeting uses. Vietnamese names are written family name first ("Đặng
    Lưu Hà") and people are called by the last word ("Hà"); elsewhere the first word. A
    name is taken as Vietnamese when the profile speaks Vietnamese, lives in Vietnam, or
    the name has letters only Vietnamese uses."""
    words = customer.name.split()
    if not words:
        return ""
    vietnamese = (
        customer.language == "vi"
        or customer.country == "VN"
        or any(char in _VIETNAMESE_LETTERS for char in customer.name)
    )
    return words[-1] if vietnamese else words[0]


def _tracking_withdrawn(customer: Customer) -> bool:
    from omnicrm.customers.rules import tracking_withdrawn

    return tracking_withdrawn(customer)


def greeting_for(
    *,
    anonymous_id: str = "",
    user_id: str = "",
    trusted: bool = False,
    language: str = "",
    fallback_language: str = "",
) -> Greeting:
    """The greeting for a visitor. ``trusted`` callers (API keys) may name a userId alone.

    Language: the one the site asks for, else the profile's, else ``fallback_language``
    (the browser's Accept-Language), else English.
    """
    customer = None
    if anonymous_id:
        customer = identity_lookup(anonymous_id=anonymous_id)
        if customer is not None and user_id:
            named = identity_lookup(user_id=user_id)
            if named is None or named.pk != customer.pk:
                customer = None
    elif user_id and trusted:
        customer = identity_lookup(user_id=user_id)
    if customer is not None and (customer.erased_at or _tracking_withdrawn(customer)):
        customer = None
    chosen = language_pick(
        language, customer.language if customer is not None else "", fallback_language
    )
    with translation.override(chosen):
        if customer is None:
            text = _("Welcome!")
        elif given_name(customer):
            text = _("Welcome back, %(name)s") % {"name": given_name(customer)}
        else:
            text = _("Welcome back!")
    return Greeting(greeting=text, known=customer is not None, language=chosen)
