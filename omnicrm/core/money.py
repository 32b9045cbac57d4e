"""Money is a Decimal amount with an ISO 4217 currency; never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from django.db import models

# Minor units per currency (ISO 4217); currencies not listed use 2.
MINOR_UNITS = {"VND": 0, "JPY": 0, "KRW": 0, "CLP": 0, "BHD": 3, "KWD": 3}
MONEY_MAX_DIGITS = 14
MONEY_DECIMAL_PLACES = 2


def money_field(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        **kwargs,  # type: ignore[arg-type]
    )


def currency_field(**kwargs: object) -> models.CharField:
    return models.CharField(max_length=3, **kwargs)  # type: ignore[arg-type]


def normalize_currency(value: str) -> str:
    code = (value or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


def parse_amount(value: str | int | Decimal, currency: str = "USD") -> Decimal:
    """Parse a money amount exactly, rounded half-even to the currency's minor unit."""
    if isinstance(value, float):
        raise TypeError("money amounts are never floats")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a number") from exc
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    places = MINOR_UNITS.get(currency.upper(), 2)
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.amount:,} {self.currency}"
