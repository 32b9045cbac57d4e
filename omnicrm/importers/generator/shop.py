"""Simulating the shop's buyers and writing customers.csv, products.csv and orders.csv.

Purchases follow the BG/NBD story (Fader, Hardie and Lee 2005): while alive, a customer
buys as a Poisson process whose rate is drawn from a Gamma distribution; after each
purchase they drop out with a probability drawn from a Beta distribution. The rate is
modulated by the month of the year (Tết and year-end peaks) and the day of the week
(busier weekends) by thinning, and purchases land at realistic local hours. Everything is
vectorized with numpy and driven by one seeded generator, so a seed always gives the same
files.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from django.utils.translation import gettext as _
from tqdm import tqdm

from omnicrm.core.money import MINOR_UNITS
from omnicrm.importers.generator.catalog import CATEGORIES, COFFEE_CATEGORIES, Item, make_catalog
from omnicrm.importers.generator.people import People, make_people

# BG/NBD parameters: purchase rate per year ~ Gamma(R, scale 1/ALPHA) (mean 3 a year),
# dropout probability after each purchase ~ Beta(A, B) (mean 0.22).
R, ALPHA = 0.9, 0.3
A, B = 1.0, 3.5
# Share of registered customers who ever buy ("1,000 registered customers, 500 buyers").
BUYER_SHARE = 0.55
MONTHLY = np.array([1.35, 1.2, 0.85, 0.9, 0.95, 0.85, 0.85, 0.9, 1.0, 1.05, 1.3, 1.45])
WEEKLY = np.array([0.9, 0.95, 0.95, 1.0, 1.1, 1.25, 1.05])  # Monday .. Sunday
# Relative orders per local hour, midnight first.
HOURLY = np.array(
    [
        1,
        0.5,
        0.3,
        0.2,
        0.2,
        0.4,
        1.2,
        2.5,
        4,
        5,
        5,
        4.5,
        4,
        3.5,
        3.5,
        3.5,
        3.5,
        4,
        4.5,
        5.5,
        6,
        5.5,
        4,
        2,
    ]
)
CHANNELS = ("web", "app", "store", "voice", "partner")
CHANNEL_SHARE = np.array([0.45, 0.25, 0.18, 0.04, 0.08])
# Coffee categories are this much more likely to be a customer's favourite.
COFFEE_BIAS = 3.0
STORY_SKU = "CF-ARA-CD-250"
DEFAULT_START = date(2024, 1, 1)
DEFAULT_END = date(2025, 12, 31)
# Rough exchange rates from US dollars, enough for believable prices in other currencies.
RATES = {"USD": 1.0, "VND": 25000.0, "EUR": 0.92, "GBP": 0.79, "BRL": 5.0, "CNY": 7.2, "SGD": 1.35}
CARD_BRANDS = ("visa", "mastercard", "jcb", "amex")
TOKEN_ALPHABET = np.array(list("abcdefghijklmnopqrstuvwxyz234567"))

CUSTOMER_HEADER = (
    "external_id", "email", "name", "phone", "language", "timezone", "country", "city",
    "region", "postal_code", "address_line1", "first_seen_at", "marketing_consent",
    "marketing_consent_at",
)  # fmt: skip
PRODUCT_HEADER = (
    "sku", "title", "price", "currency", "category", "category_name", "content", "stock",
    "is_active", "attributes",
)  # fmt: skip
ORDER_HEADER = (
    "order_id", "customer_external_id", "customer_email", "placed_at", "status", "channel",
    "currency", "discount", "confirmed_at", "shipped_at", "delivered_at", "canceled_at",
    "tracking_number", "payment_method", "payment_amount", "payment_installments",
    "payment_token", "payment_brand", "payment_last4", "sku", "quantity", "unit_price",
    "shipping",
)  # fmt: skip


@dataclass
class DemoShopResult:
    """What `demo_shop_generate` wrote."""

    directory: Path
    customers: int
    buyers: int
    products: int
    orders: int
    order_lines: int
    seed: int
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    # The purchase-rate multiplier used (1.0 unless a number of orders was asked for).
    rate_scale: float = 1.0


def customer_ref(index: int) -> str:
    return f"demo:c{index + 1:07d}"


def order_ref(index: int) -> str:
    return f"TC-{index + 1:08d}"


class _Money:
    """Integer minor units of one currency, formatted as the CSV expects."""

    def __init__(self, currency: str):
        if currency not in RATES:
            raise ValueError(f"no exchange rate for {currency}; use one of {', '.join(RATES)}")
        self.currency = currency
        self.places = min(MINOR_UNITS.get(currency, 2), 2)
        self.rate = RATES[currency]

    def round(self, minor: np.ndarray) -> np.ndarray:
        """Round amounts in minor units the way the currency prices things."""
        if self.places == 0:
            # Whole thousands, as shops pricing in dong do.
            return (np.round(np.asarray(minor) / 1000) * 1000).astype(np.int64)
        return np.round(np.asarray(minor)).astype(np.int64)

    def from_usd_cents(self, cents: np.ndarray) -> np.ndarray:
        return self.round(np.asarray(cents) * self.rate * 10**self.places / 100)

    def text(self, minor: int) -> str:
        if self.places == 0:
            return str(minor)
        return f"{minor // 100}.{minor % 100:02d}"


def _timestamps(seconds: np.ndarray, start: date, offsets: list[str]) -> list[str]:
    """Local seconds since `start` -> ISO-8601 with the customer's UTC offset; -1 -> ''."""
    base = np.datetime64(start.isoformat(), "s")
    text = np.datetime_as_string(
        base + np.maximum(seconds, 0).astype("timedelta64[s]"), unit="s"
    ).tolist()
    return [
        f"{t}{o}" if s >= 0 else "" for t, o, s in zip(text, offsets, seconds.tolist(), strict=True)
    ]


def _simulate(
    rng: np.random.Generator,
    signup: np.ndarray,
    buyers: np.ndarray,
    days: int,
    start: date,
    rate_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Purchase days (fractional, local) per customer: (customer index, day) arrays.

    ``rate_scale`` makes the shop busier while it stays a BG/NBD process: every purchase
    rate is multiplied by it (the Gamma's alpha divided) and the dropout's Beta b is
    multiplied by it too (mean dropout about divided), so customers buy more often *and*
    stay longer, rather than buying in a burst and leaving. A scale of 1.0 leaves the draws
    untouched."""
    count = len(signup)
    rate = rng.gamma(R, 1 / ALPHA, count) / 365.0 * rate_scale
    dropout = rng.beta(A, B * rate_scale, count)
    day_index = np.arange(days)
    calendar = np.datetime64(start.isoformat(), "D") + day_index
    month = calendar.astype("datetime64[M]").astype(np.int64) % 12
    weekday = (calendar.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    season = MONTHLY[month] * WEEKLY[weekday]
    accept_of_day = season / season.max()
    # Candidates come faster than purchases so that, after thinning by the season, the
    # average rate is the customer's own.
    boost = 1.0 / accept_of_day.mean()

    who = [np.flatnonzero(buyers)]
    first = signup[who[0]] + rng.exponential(7.0, len(who[0]))
    keep = first < days
    who[0] = who[0][keep]
    when = [first[keep]]
    alive = who[0][rng.random(len(who[0])) >= dropout[who[0]]]
    clock = np.full(count, np.inf)
    clock[who[0]] = when[0]
    active = alive
    while len(active):
        clock[active] += rng.exponential(1.0, len(active)) / (rate[active] * boost)
        active = active[clock[active] < days]
        if not len(active):
            break
        times = clock[active]
        bought = rng.random(len(active)) < accept_of_day[times.astype(np.int64)]
        buyers_now = active[bought]
        who.append(buyers_now)
        when.append(times[bought])
        dropped = np.zeros(len(active), dtype=bool)
        dropped[np.flatnonzero(bought)] = rng.random(len(buyers_now)) < dropout[buyers_now]
        active = active[~dropped]
    return np.concatenate(who), np.concatenate(when)


def _choose_products(
    rng: np.random.Generator, catalog: list[Item], line_customer: np.ndarray, customers: int
) -> np.ndarray:
    """A product per line: the customer's staple, their favourite category, or anything."""
    size = len(catalog)
    popularity = np.array([item.popularity for item in catalog])
    categories = list(CATEGORIES)
    category_of = np.array([categories.index(item.category) for item in catalog])
    consumable = np.array([item.consumable for item in catalog])

    # Staple: a consumable the customer keeps coming back for (their coffee, usually).
    staple_weights = np.where(consumable, popularity, 0.0)
    staple = rng.choice(size, size=customers, p=staple_weights / staple_weights.sum())
    # Favourite category, weighted by what the shop sells, coffee first.
    weights = np.bincount(category_of, weights=popularity, minlength=len(categories)).astype(
        np.float64
    )
    weights[[categories.index(c) for c in COFFEE_CATEGORIES]] *= COFFEE_BIAS
    favourite = rng.choice(len(categories), size=customers, p=weights / weights.sum())

    # Popularity-weighted draws inside one category: the catalog sorted by category, one
    # cumulative sum, and each category a block of it.
    order = np.argsort(category_of, kind="stable")
    cumulative = np.cumsum(popularity[order])
    counts = np.bincount(category_of, minlength=len(categories))
    ends = np.cumsum(counts)
    starts = ends - counts
    block_start = np.where(starts > 0, cumulative[np.maximum(starts - 1, 0)], 0.0)
    block_end = cumulative[np.maximum(ends - 1, 0)]

    lines = len(line_customer)
    pick = rng.random(lines)
    fav = favourite[line_customer]
    target = block_start[fav] + rng.random(lines) * (block_end[fav] - block_start[fav])
    in_category = order[np.minimum(np.searchsorted(cumulative, target, side="right"), size - 1)]
    anywhere = rng.choice(size, size=lines, p=popularity / popularity.sum())
    return np.where(pick < 0.45, staple[line_customer], np.where(pick < 0.8, in_category, anywhere))


@dataclass
class _Orders:
    """Column arrays of the generated orders (index i) and lines (index j)."""

    customer: np.ndarray
    placed: np.ndarray
    channel: np.ndarray
    line_order: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray
    line_shipping: np.ndarray
    discount: np.ndarray
    total: np.ndarray
    status: np.ndarray
    stamps: dict[str, np.ndarray]
    payment: dict[str, np.ndarray]


def _signups_and_buyers(
    rng: np.random.Generator, customers: int, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's signup day (growing over the period) and whether they ever buy."""
    growth = rng.random(customers)
    signup = np.where(rng.random(customers) < 0.5, growth * days, np.sqrt(growth) * days)
    signup[0] = min(10.0, days / 10)
    buyers = rng.random(customers) < BUYER_SHARE
    buyers[0] = False  # her orders are written by hand below
    return signup, buyers


# Customers simulated to find the rate scale that gives a requested number of orders.
PILOT_CUSTOMERS = 40_000
# A scale outside these bounds would no longer look like a shop (and rarely converges).
SCALE_BOUNDS = (1 / 16, 256.0)


def rate_scale_for(
    *,
    orders: int,
    customers: int,
    days: int,
    start: date,
    seed: int,
    state: Mapping[str, Any] | None = None,
) -> float:
    """The scale of the purchase process (see `_simulate`) at which `customers` customers
    place about `orders` orders.

    Orders grow with the scale but not in proportion (the period is finite), so the scale
    is found by bisection on a simulation repeated from the same seed at every step,
    keeping the closest. With ``state`` (the generator's state just before the orders are
    simulated) and at most PILOT_CUSTOMERS customers, that simulation is the shop's own, so
    the count comes out close to the request; a larger shop is calibrated on a pilot of
    PILOT_CUSTOMERS customers with its own seeded generator, close in proportion. Either
    way the answer depends only on the arguments."""
    pilot = customers if state is not None and customers <= PILOT_CUSTOMERS else PILOT_CUSTOMERS
    wanted = max(orders - 3, 0) / customers  # the running example's 3 orders are fixed

    seen: dict[float, float] = {}

    def per_customer(scale: float) -> float:
        if pilot == customers and state is not None:
            rng = np.random.default_rng()
            rng.bit_generator.state = state
        else:
            rng = np.random.default_rng([seed, 0x5CA1E])
        signup, buyers = _signups_and_buyers(rng, pilot, days)
        who, _when = _simulate(rng, signup, buyers, days, start, scale)
        seen[scale] = len(who) / pilot
        return seen[scale]

    low, high = SCALE_BOUNDS
    if per_customer(high) < wanted:
        raise ValueError(
            f"orders: {orders:,} orders from {customers:,} customers is more than the "
            "generator's purchase process can reach; ask for fewer orders or more customers"
        )
    if per_customer(low) > wanted:
        raise ValueError(
            f"orders: {orders:,} orders from {customers:,} customers is too few; "
            "ask for more orders or fewer customers"
        )
    for _step in range(14):  # geometric bisection: the scale to within about 0.1%
        middle = float(np.sqrt(low * high))
        if per_customer(middle) < wanted:
            low = middle
        else:
            high = middle
    # A different scale shifts every later draw, so the count is a noisy function of the
    # scale: keep the scale whose simulation came closest.
    return min(seen, key=lambda scale: (abs(seen[scale] - wanted), scale))


def _make_orders(
    rng: np.random.Generator,
    catalog: list[Item],
    customers: int,
    days: int,
    start: date,
    money: _Money,
    rate_scale: float = 1.0,
) -> tuple[_Orders, np.ndarray]:
    """The orders of every customer, and each customer's signup day."""
    signup, buyers = _signups_and_buyers(rng, customers, days)
    who, when = _simulate(rng, signup, buyers, days, start, rate_scale)
    # The running example: Đặng Lưu Hà bought Arabica, 10 packs in 3 orders.
    story_days = np.array([0.25, 0.5, 0.75]) * days
    who = np.concatenate([who, np.zeros(3, dtype=np.int64)])
    when = np.concatenate([when, story_days])
    sequence = np.argsort(when, kind="stable")
    who, when = who[sequence], when[sequence]
    orders = len(who)
    story = np.flatnonzero(who == 0)
    hour = rng.choice(24, size=orders, p=HOURLY / HOURLY.sum())
    placed = np.floor(when).astype(np.int64) * 86400 + hour * 3600 + rng.integers(0, 3600, orders)
    placed[story] = np.floor(story_days).astype(np.int64) * 86400 + 9 * 3600 + 1800

    per_order = 1 + np.minimum(rng.poisson(0.75, orders), 7)
    per_order[story] = 1
    line_order = np.repeat(np.arange(orders), per_order)
    product = _choose_products(rng, catalog, who[line_order], customers)
    product[np.isin(line_order, story)] = [item.sku for item in catalog].index(STORY_SKU)
    # The same product twice in one order is one line with a larger quantity.
    key, repeats = np.unique(line_order * len(catalog) + product, return_counts=True)
    line_order, product = key // len(catalog), key % len(catalog)
    lines = len(product)
    consumable = np.array([item.consumable for item in catalog])[product]
    extra = np.where(consumable & (rng.random(lines) < 0.3), rng.integers(1, 3, lines), 0)
    quantity = repeats + extra
    quantity[np.isin(line_order, story)] = [3, 3, 4]
    unit_price = money.from_usd_cents(np.array([item.price_cents for item in catalog]))[product]
    promo = rng.random(lines) < 0.08
    unit_price = np.where(promo, money.round(unit_price * 0.9), unit_price)

    primary = rng.choice(len(CHANNELS), size=customers, p=CHANNEL_SHARE)
    primary[0] = 0
    other = rng.choice(len(CHANNELS), size=orders, p=CHANNEL_SHARE)
    channel = np.where(rng.random(orders) < 0.75, primary[who], other)
    channel[story] = 0
    in_store = channel == CHANNELS.index("store")
    subtotal = np.bincount(line_order, weights=unit_price * quantity, minlength=orders).astype(
        np.int64
    )
    fee = money.from_usd_cents(np.where(rng.random(orders) < 0.5, 299, 499))
    shipping = np.where(in_store | (subtotal >= money.from_usd_cents(np.array(5000))), 0, fee)
    discount = money.round(np.where(rng.random(orders) < 0.06, subtotal / 10, 0))
    discount[story] = 0
    first_line = np.r_[0, np.flatnonzero(np.diff(line_order)) + 1]
    line_shipping = np.zeros(lines, dtype=np.int64)
    line_shipping[first_line] = shipping
    total = subtotal + shipping - discount

    stamps, status = _lifecycle(rng, placed, in_store, story, days * 86400)
    payment = _payments(rng, channel, total, money)
    built = _Orders(
        customer=who,
        placed=placed,
        channel=channel,
        line_order=line_order,
        product=product,
        quantity=quantity,
        unit_price=unit_price,
        line_shipping=line_shipping,
        discount=discount,
        total=total,
        status=status,
        stamps=stamps,
        payment=payment,
    )
    return built, signup


def _lifecycle(
    rng: np.random.Generator,
    placed: np.ndarray,
    in_store: np.ndarray,
    story: np.ndarray,
    horizon: int,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Stage timestamps (-1 = not reached by the end of the window) and the status they imply."""
    orders = len(placed)
    confirmed = placed + rng.integers(120, 5400, orders)
    shipped = confirmed + rng.integers(7200, 2 * 86400, orders)
    delivered = shipped + rng.integers(20 * 3600, 4 * 86400, orders)
    # A store sale is paid and handed over at once.
    confirmed[in_store] = placed[in_store]
    shipped[in_store] = -1
    delivered[in_store] = placed[in_store]
    canceled = placed + rng.integers(1800, 30 * 3600, orders)
    is_canceled = (rng.random(orders) < 0.03) & ~in_store & (canceled <= horizon)
    is_canceled[story] = False
    canceled[~is_canceled] = -1
    shipped[is_canceled] = -1
    delivered[is_canceled] = -1
    confirmed[is_canceled & (confirmed > canceled)] = -1
    for stamp in (confirmed, shipped, delivered):
        stamp[stamp > horizon] = -1
    status = np.full(orders, "pending", dtype=object)
    status[confirmed >= 0] = "confirmed"
    status[(confirmed >= 0) & (confirmed + 4 * 3600 <= horizon) & ~in_store] = "processing"
    status[shipped >= 0] = "shipped"
    status[delivered >= 0] = "delivered"
    status[(delivered >= 0) & (rng.random(orders) < 0.015)] = "returned"
    status[is_canceled] = "canceled"
    stamps = {"placed": placed, "confirmed": confirmed, "shipped": shipped, "delivered": delivered,
              "canceled": canceled}  # fmt: skip
    return stamps, status


def _payments(
    rng: np.random.Generator, channel: np.ndarray, total: np.ndarray, money: _Money
) -> dict[str, np.ndarray]:
    orders = len(channel)
    methods = np.array(
        ["credit_card", "debit_card", "wallet", "bank_transfer", "cash", "voucher"], dtype=object
    )
    online = np.array([0.55, 0.1, 0.22, 0.1, 0.0, 0.03])
    store = np.array([0.45, 0.05, 0.12, 0.0, 0.38, 0.0])
    pick_online = rng.choice(len(methods), size=orders, p=online)
    pick_store = rng.choice(len(methods), size=orders, p=store)
    method = methods[np.where(channel == CHANNELS.index("store"), pick_store, pick_online)]
    carded = (method == "credit_card") | (method == "debit_card")
    tokened = carded | (method == "wallet")
    brands = np.array(CARD_BRANDS, dtype=object)[rng.integers(0, len(CARD_BRANDS), orders)]
    brand = np.where(carded, brands, "")
    digits = np.char.zfill(rng.integers(0, 10000, orders).astype(str), 4).astype(object)
    last4 = np.where(carded, digits, "")
    # Provider tokens in base32 letters, the shape payment providers hand out; never a PAN.
    letters = TOKEN_ALPHABET[rng.integers(0, 32, (orders, 20))]
    tokens = np.char.add("tok_", letters.view("<U20").ravel()).astype(object)
    token = np.where(tokened, tokens, "")
    expensive = total >= money.from_usd_cents(np.array(10000))
    spread = rng.choice([1, 3, 6, 12], orders)
    installments = np.where((method == "credit_card") & expensive, spread, 1)
    return {
        "method": method,
        "brand": brand,
        "token": token,
        "last4": last4,
        "installments": installments,
    }


def demo_shop_generate(
    *,
    customers: int,
    out: str | Path,
    seed: int = 0,
    products: int | None = None,
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
    currency: str = "USD",
    orders: int | None = None,
    progress: bool = True,
) -> DemoShopResult:
    """Write a synthetic shop (customers.csv, products.csv, orders.csv) in the generic CSV
    format; the same arguments always give the same files (see docs/importing.md).

    ``orders`` asks for about that many orders in total (within a few percent): the
    purchase rates are scaled to reach it (`rate_scale_for`); without it the shop has its
    natural volume, about 1.3 orders per customer."""
    if customers < 1:
        raise ValueError("customers must be 1 or more")
    if orders is not None and orders < 1:
        raise ValueError("orders must be 1 or more")
    if end <= start:
        raise ValueError("end must be after start")
    if products is not None and products < 1:
        raise ValueError("products must be 1 or more")
    started = time.perf_counter()
    directory = Path(out).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    money = _Money(currency.upper())
    rng = np.random.default_rng(seed)
    days = (end - start).days + 1
    product_count = products if products is not None else int(np.clip(customers // 50, 120, 5000))
    with tqdm(
        total=3, desc=_("simulating"), unit="step", disable=not progress, file=sys.stderr
    ) as bar:
        people = make_people(rng, customers)
        bar.update(1)
        catalog = make_catalog(rng, product_count)
        bar.update(1)
        rate_scale = 1.0
        if orders is not None:
            rate_scale = rate_scale_for(
                orders=orders,
                customers=customers,
                days=days,
                start=start,
                seed=seed,
                state=rng.bit_generator.state,
            )
        made, signup = _make_orders(rng, catalog, customers, days, start, money, rate_scale)
        bar.update(1)
    files = {
        "customers": directory / "customers.csv",
        "products": directory / "products.csv",
        "orders": directory / "orders.csv",
    }
    _write_customers(files["customers"], people, signup, start, rng)
    _write_products(files["products"], catalog, money, rng)
    _write_orders(files["orders"], made, people, catalog, money, start, progress)
    return DemoShopResult(
        directory=directory,
        customers=customers,
        buyers=len(np.unique(made.customer)),
        products=len(catalog),
        orders=len(made.customer),
        order_lines=len(made.product),
        seed=seed,
        files=files,
        seconds=time.perf_counter() - started,
        rate_scale=rate_scale,
    )


def _write_customers(
    path: Path, people: People, signup: np.ndarray, start: date, rng: np.random.Generator
) -> None:
    count = len(people.names)
    seen = _timestamps((signup * 86400).astype(np.int64), start, people.offsets)
    draw = rng.random(count)
    consent = np.where(draw < 0.65, "granted", np.where(draw < 0.75, "withdrawn", "")).tolist()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CUSTOMER_HEADER)
        writer.writerows(
            (
                customer_ref(i), people.emails[i], people.names[i], people.phones[i],
                people.languages[i], people.timezones[i], people.countries[i], people.cities[i],
                people.regions[i], people.postal_codes[i], people.lines[i], seen[i], consent[i],
                seen[i] if consent[i] else "",
            )
            for i in range(count)
        )  # fmt: skip


def _write_products(
    path: Path, catalog: list[Item], money: _Money, rng: np.random.Generator
) -> None:
    price = money.from_usd_cents(np.array([item.price_cents for item in catalog])).tolist()
    stock = rng.integers(0, 500, len(catalog)).tolist()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(PRODUCT_HEADER)
        for index, item in enumerate(catalog):
            attributes = dict(item.attributes)
            if item.consumable:
                attributes.setdefault("repeat", True)
            writer.writerow(
                (
                    item.sku, item.title, money.text(price[index]), money.currency,
                    item.category, CATEGORIES[item.category], item.content, stock[index], "true",
                    json.dumps(attributes, ensure_ascii=False) if attributes else "",
                )
            )  # fmt: skip


def _write_orders(
    path: Path,
    orders: _Orders,
    people: People,
    catalog: list[Item],
    money: _Money,
    start: date,
    progress: bool,
) -> None:
    # Written a block of orders at a time: the text of every order at once would take
    # gigabytes at millions of orders. Lines are sorted by order, so a block of orders
    # is a contiguous block of lines.
    skus = [item.sku for item in catalog]
    lines = len(orders.line_order)
    block = 100_000
    line_starts = np.searchsorted(orders.line_order, np.arange(0, len(orders.customer), block))
    with (
        path.open("w", encoding="utf-8", newline="") as handle,
        tqdm(
            total=lines, desc="orders.csv", unit="line", disable=not progress, file=sys.stderr
        ) as bar,
    ):
        writer = csv.writer(handle)
        writer.writerow(ORDER_HEADER)
        for number, first in enumerate(range(0, len(orders.customer), block)):
            last = min(first + block, len(orders.customer))
            order_text = _order_text(orders, people, money, start, first, last)
            begin = int(line_starts[number])
            stop = int(line_starts[number + 1]) if number + 1 < len(line_starts) else lines
            part = zip(
                orders.line_order[begin:stop].tolist(),
                orders.product[begin:stop].tolist(),
                orders.quantity[begin:stop].tolist(),
                orders.unit_price[begin:stop].tolist(),
                orders.line_shipping[begin:stop].tolist(),
                strict=True,
            )
            writer.writerows(
                (*order_text[o - first], skus[p], q, money.text(u), money.text(s))
                for o, p, q, u, s in part
            )
            bar.update(stop - begin)


def _order_text(
    orders: _Orders, people: People, money: _Money, start: date, first: int, last: int
) -> list[tuple[object, ...]]:
    """The order columns of orders first..last-1, as written on each of their lines."""
    customer = orders.customer[first:last].tolist()
    offsets = [people.offsets[c] for c in customer]
    stamps = {
        name: _timestamps(values[first:last], start, offsets)
        for name, values in orders.stamps.items()
    }
    pay = {name: values[first:last].tolist() for name, values in orders.payment.items()}
    channel = orders.channel[first:last].tolist()
    discount = orders.discount[first:last].tolist()
    total = orders.total[first:last].tolist()
    status = orders.status[first:last].tolist()
    return [
        (
            order_ref(i + first), customer_ref(c), people.emails[c], stamps["placed"][i],
            status[i], CHANNELS[channel[i]], money.currency,
            money.text(discount[i]) if discount[i] else "", stamps["confirmed"][i],
            stamps["shipped"][i], stamps["delivered"][i], stamps["canceled"][i],
            f"TRK{i + first + 1:010d}" if stamps["shipped"][i] else "", pay["method"][i],
            money.text(total[i]), pay["installments"][i], pay["token"][i], pay["brand"][i],
            pay["last4"][i],
        )
        for i, c in enumerate(customer)
    ]  # fmt: skip
