"""What the synthetic shop sells: a coffee shop's catalog, then general goods.

The coffee catalog is written by hand (beans, ground coffee, brewing gear, filters, tea,
cups, gifts); when more products are asked for, general categories (books, kitchen,
beauty, stationery, electronics accessories) are filled with generated items. Prices are
in US dollars and converted for other currencies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Item:
    sku: str
    title: str
    category: str
    price_cents: int
    popularity: float
    consumable: bool = False
    attributes: dict[str, object] = field(default_factory=dict)
    content: str = ""


CATEGORIES: dict[str, str] = {
    "coffee-beans": "Coffee beans",
    "ground-coffee": "Ground coffee",
    "instant-coffee": "Instant coffee",
    "brewing-equipment": "Brewing equipment",
    "filters-accessories": "Filters and accessories",
    "tea": "Tea",
    "cups-mugs": "Cups and mugs",
    "gifts": "Gifts",
    "snacks": "Snacks",
    "books": "Books",
    "home-kitchen": "Home and kitchen",
    "beauty": "Beauty",
    "stationery": "Stationery",
    "electronics-accessories": "Electronics accessories",
}
COFFEE_CATEGORIES = tuple(list(CATEGORIES)[:9])
GENERAL_CATEGORIES = tuple(list(CATEGORIES)[9:])


def _beans() -> list[Item]:
    origins = [
        ("ARA-CD", "Arabica Cầu Đất", "Cầu Đất, Lâm Đồng", "medium", 1.0, 3.0),
        ("ARA-SL", "Arabica Sơn La", "Sơn La", "medium-light", 0.8, 0.7),
        ("ROB-BMT", "Robusta Buôn Ma Thuột", "Buôn Ma Thuột, Đắk Lắk", "dark", 0.6, 2.2),
        ("ROB-HN", "Robusta Honey", "Đắk Lắk", "medium-dark", 0.7, 0.6),
        ("CULI", "Culi Robusta (peaberry)", "Gia Lai", "dark", 0.75, 0.6),
        ("MOKA", "Moka Cầu Đất", "Cầu Đất, Lâm Đồng", "medium", 1.25, 0.5),
        ("BLEND", "The Coffee House Blend", "Lâm Đồng, Đắk Lắk", "medium-dark", 0.85, 1.6),
        ("ESP", "Espresso Blend", "Lâm Đồng, Đắk Lắk", "dark", 0.9, 1.0),
        ("DECAF", "Decaf Arabica", "Lâm Đồng", "medium", 1.1, 0.3),
        ("ETH", "Ethiopia Yirgacheffe", "Yirgacheffe, Ethiopia", "light", 1.6, 0.35),
        ("COL", "Colombia Huila", "Huila, Colombia", "medium", 1.4, 0.35),
        ("BRA", "Brazil Cerrado", "Cerrado Mineiro, Brazil", "medium-dark", 1.05, 0.4),
    ]
    sizes = [("250", 250, 650, 1.0), ("500", 500, 1190, 0.55), ("1K", 1000, 2190, 0.3)]
    items = []
    for code, name, origin, roast, factor, pop in origins:
        for size_code, grams, base, size_pop in sizes:
            label = f"{grams} g" if grams < 1000 else "1 kg"
            items.append(
                Item(
                    f"CF-{code}-{size_code}",
                    f"{name} beans {label}",
                    "coffee-beans",
                    int(round(base * factor, -1)) - 1,
                    pop * size_pop,
                    consumable=True,
                    attributes={
                        "origin": origin,
                        "roast": roast,
                        "weight_g": grams,
                        "replenish_days": grams // 12,
                    },
                    content=f"Whole {name} coffee beans from {origin}, {roast} roast, {label} bag.",
                )
            )
    return items


def _hand_written() -> list[Item]:
    rows: list[tuple[str, str, str, int, float, bool, dict[str, object]]] = [
        (
            "GR-PHIN-ROB",
            "Phin ground Robusta 500 g",
            "ground-coffee",
            990,
            1.5,
            True,
            {"grind": "phin"},
        ),
        (
            "GR-PHIN-ARA",
            "Phin ground Arabica 500 g",
            "ground-coffee",
            1290,
            1.0,
            True,
            {"grind": "phin"},
        ),
        (
            "GR-ESP",
            "Espresso ground blend 250 g",
            "ground-coffee",
            790,
            0.6,
            True,
            {"grind": "espresso"},
        ),
        (
            "GR-FILTER",
            "Filter ground Arabica 250 g",
            "ground-coffee",
            720,
            0.6,
            True,
            {"grind": "filter"},
        ),
        ("INS-3IN1", "Instant coffee 3-in-1 (20 sachets)", "instant-coffee", 450, 1.2, True, {}),
        ("INS-BLACK", "Instant black coffee (15 sachets)", "instant-coffee", 390, 0.6, True, {}),
        ("INS-COLDBREW", "Cold brew concentrate 500 ml", "instant-coffee", 890, 0.7, True, {}),
        ("EQ-PHIN", "Vietnamese phin filter (stainless)", "brewing-equipment", 690, 1.1, False, {}),
        ("EQ-MOKA3", "Moka pot 3 cups", "brewing-equipment", 2490, 0.6, False, {"cups": 3}),
        ("EQ-MOKA6", "Moka pot 6 cups", "brewing-equipment", 3290, 0.45, False, {"cups": 6}),
        ("EQ-V60", "Pour-over dripper (cone, size 02)", "brewing-equipment", 1890, 0.5, False, {}),
        ("EQ-PRESS", "French press 600 ml", "brewing-equipment", 2790, 0.45, False, {}),
        ("EQ-AERO", "Press brewer for travel", "brewing-equipment", 3490, 0.3, False, {}),
        ("EQ-KETTLE", "Gooseneck kettle 1 l", "brewing-equipment", 3990, 0.3, False, {}),
        ("EQ-HGRIND", "Hand burr grinder", "brewing-equipment", 4590, 0.3, False, {}),
        ("EQ-EGRIND", "Electric burr grinder", "brewing-equipment", 12900, 0.15, False, {}),
        ("EQ-ESPRESSO", "Home espresso machine", "brewing-equipment", 24900, 0.08, False, {}),
        ("EQ-FROTH", "Milk frother", "brewing-equipment", 1990, 0.25, False, {}),
        ("EQ-SCALE", "Coffee scale with timer", "brewing-equipment", 2490, 0.2, False, {}),
        ("EQ-COLDBREW", "Cold brew bottle 1 l", "brewing-equipment", 2190, 0.3, False, {}),
        (
            "FA-PAPER02",
            "Paper filters size 02 (100 pcs)",
            "filters-accessories",
            590,
            0.9,
            True,
            {},
        ),
        (
            "FA-PAPER04",
            "Paper filters size 04 (100 pcs)",
            "filters-accessories",
            590,
            0.5,
            True,
            {},
        ),
        ("FA-METAL", "Reusable metal filter", "filters-accessories", 1290, 0.3, False, {}),
        ("FA-CLEAN", "Machine cleaning tablets", "filters-accessories", 990, 0.25, True, {}),
        ("FA-DESCALE", "Descaler 500 ml", "filters-accessories", 890, 0.25, True, {}),
        ("FA-TAMPER", "Espresso tamper 58 mm", "filters-accessories", 1690, 0.1, False, {}),
        ("TEA-THAINGUYEN", "Thái Nguyên green tea 200 g", "tea", 990, 0.6, True, {}),
        ("TEA-LOTUS", "Lotus tea (trà sen) 100 g", "tea", 1490, 0.45, True, {"gift": True}),
        ("TEA-JASMINE", "Jasmine tea 200 g", "tea", 890, 0.35, True, {}),
        ("TEA-OOLONG", "Oolong tea 150 g", "tea", 1290, 0.3, True, {}),
        ("TEA-ARTICHOKE", "Artichoke tea (20 bags)", "tea", 690, 0.25, True, {}),
        ("CUP-MUG", "Ceramic mug 350 ml", "cups-mugs", 990, 0.4, False, {}),
        ("CUP-GLASS", "Double-wall glass cup", "cups-mugs", 1290, 0.3, False, {}),
        ("CUP-TUMBLER", "Travel tumbler 450 ml", "cups-mugs", 1890, 0.35, False, {}),
        (
            "CUP-BATTRANG",
            "Bát Tràng ceramic cup set",
            "cups-mugs",
            3490,
            0.15,
            False,
            {"gift": True},
        ),
        ("GIFT-TET", "Tết gift box", "gifts", 4590, 0.4, False, {"gift": True, "season": "tet"}),
        ("GIFT-MIDAUTUMN", "Mid-autumn gift set", "gifts", 3990, 0.25, False, {"gift": True}),
        ("GIFT-LOVER", "Coffee lover gift set", "gifts", 5990, 0.2, False, {"gift": True}),
        ("GIFT-CARD25", "Gift card 25", "gifts", 2500, 0.2, False, {"gift": True}),
        ("GIFT-CARD50", "Gift card 50", "gifts", 5000, 0.12, False, {"gift": True}),
        (
            "SUB-ARABICA",
            "Monthly Arabica subscription",
            "gifts",
            1890,
            0.3,
            True,
            {"subscription": True},
        ),
        ("SN-MANGO", "Dried mango 200 g", "snacks", 490, 0.4, True, {}),
        ("SN-CASHEW", "Roasted cashews 250 g", "snacks", 790, 0.45, True, {}),
        ("SN-CHOC", "Dark chocolate 70% (Bến Tre cacao)", "snacks", 590, 0.35, True, {}),
        ("SN-COOKIE", "Butter cookies", "snacks", 390, 0.3, True, {}),
    ]
    return [
        Item(
            sku, title, category, price, pop, consumable, attrs, f"{title}. {CATEGORIES[category]}."
        )
        for sku, title, category, price, pop, consumable, attrs in rows
    ]


GENERAL_WORDS = {
    "books": (
        ("Guide to", "Stories of", "Cooking with", "History of", "Notes on", "Letters from"),
        ("Vietnam", "Coffee", "the Mekong", "Hanoi", "Saigon", "Tea", "Travel", "Gardens"),
        (890, 2990),
    ),
    "home-kitchen": (
        ("Bamboo", "Ceramic", "Steel", "Glass", "Wooden", "Linen"),
        ("cutting board", "bowl set", "storage jar", "tray", "napkins", "spoon set", "teapot"),
        (790, 4990),
    ),
    "beauty": (
        ("Coconut", "Green tea", "Coffee", "Rice", "Aloe", "Lotus"),
        ("soap", "face mask", "body scrub", "hand cream", "lip balm", "shampoo"),
        (390, 2490),
    ),
    "stationery": (
        ("Kraft", "Recycled", "Dotted", "Linen", "Pocket", "Leather"),
        ("notebook", "planner", "pen set", "sticky notes", "bookmark", "card set"),
        (250, 2990),
    ),
    "electronics-accessories": (
        ("USB-C", "Wireless", "Magnetic", "Compact", "Braided", "Portable"),
        ("charger", "power bank", "cable", "earbuds", "phone stand", "speaker"),
        (890, 6990),
    ),
}


def make_catalog(rng: np.random.Generator, count: int) -> list[Item]:
    """The hand-written coffee catalog, topped up with general goods to `count` items."""
    items = _beans() + _hand_written()
    number = 0
    while len(items) < count:
        category = GENERAL_CATEGORIES[number % len(GENERAL_CATEGORIES)]
        first, second, (low, high) = GENERAL_WORDS[category]
        a = first[int(rng.integers(len(first)))]
        b = second[int(rng.integers(len(second)))]
        number += 1
        price = int(rng.integers(low, high) // 10 * 10 + 9)
        items.append(
            Item(
                f"GN-{number:06d}",
                f"{a} {b} #{number}",
                category,
                price,
                float(rng.pareto(1.5) * 0.05 + 0.01),
                consumable=category == "beauty",
                content=f"{a} {b}. {CATEGORIES[category]}.",
            )
        )
    return items
