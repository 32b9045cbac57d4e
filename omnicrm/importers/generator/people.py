"""Who buys at the synthetic shop: names, languages, places, contact details.

Most customers are Vietnamese (the running example is "The Coffee" in Vietnam, whose
customer Đặng Lưu Hà opens the file); the rest are English, Chinese and Portuguese
speakers living where those languages are spoken.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Place:
    country: str
    city: str
    region: str
    timezone: str
    offset: str
    phone_prefix: str
    streets: tuple[str, ...]


@dataclass(frozen=True)
class Origin:
    """A naming tradition with the language, places and phone prefix that go with it."""

    language: str
    share: float
    family: tuple[str, ...]
    middle: tuple[str, ...]
    given: tuple[str, ...]
    family_first: bool
    joiner: str
    places: tuple[Place, ...]


VIETNAMESE = Origin(
    language="vi",
    share=0.56,
    family=(
        "Nguyễn",
        "Trần",
        "Lê",
        "Phạm",
        "Hoàng",
        "Huỳnh",
        "Phan",
        "Vũ",
        "Võ",
        "Đặng",
        "Bùi",
        "Đỗ",
        "Hồ",
        "Ngô",
        "Dương",
        "Lý",
    ),
    middle=(
        "Văn",
        "Thị",
        "Hữu",
        "Đức",
        "Minh",
        "Ngọc",
        "Thanh",
        "Lưu",
        "Quang",
        "Thu",
        "Hoài",
        "Gia",
        "Bảo",
        "Xuân",
        "Kim",
        "Anh",
    ),
    given=(
        "Hà",
        "Anh",
        "Linh",
        "Trang",
        "Hùng",
        "Dũng",
        "Tuấn",
        "Hương",
        "Lan",
        "Mai",
        "Nam",
        "Phương",
        "Quân",
        "Thảo",
        "Vy",
        "Khoa",
        "Long",
        "Hiếu",
        "Nhung",
        "Tâm",
        "Yến",
        "Hạnh",
        "Hải",
        "Sơn",
        "Trung",
        "Thủy",
        "Ngân",
        "Châu",
        "Đạt",
        "Bình",
    ),
    family_first=True,
    joiner=" ",
    places=(
        Place(
            "VN",
            "Hà Nội",
            "Hà Nội",
            "Asia/Ho_Chi_Minh",
            "+07:00",
            "+849",
            ("Hàng Bạc", "Lý Thường Kiệt", "Phan Chu Trinh", "Kim Mã"),
        ),
        Place(
            "VN",
            "TP. Hồ Chí Minh",
            "Hồ Chí Minh",
            "Asia/Ho_Chi_Minh",
            "+07:00",
            "+849",
            ("Nguyễn Huệ", "Lê Lợi", "Hai Bà Trưng", "Pasteur"),
        ),
        Place(
            "VN",
            "Đà Nẵng",
            "Đà Nẵng",
            "Asia/Ho_Chi_Minh",
            "+07:00",
            "+849",
            ("Bạch Đằng", "Trần Phú", "Hùng Vương"),
        ),
        Place(
            "VN",
            "Hải Phòng",
            "Hải Phòng",
            "Asia/Ho_Chi_Minh",
            "+07:00",
            "+849",
            ("Lạch Tray", "Điện Biên Phủ"),
        ),
        Place(
            "VN",
            "Cần Thơ",
            "Cần Thơ",
            "Asia/Ho_Chi_Minh",
            "+07:00",
            "+849",
            ("Hòa Bình", "Ninh Kiều"),
        ),
        Place(
            "VN",
            "Đà Lạt",
            "Lâm Đồng",
            "Asia/Ho_Chi_Minh",
            "+07:00",
            "+849",
            ("Trần Hưng Đạo", "Phan Đình Phùng"),
        ),
        Place(
            "VN",
            "Buôn Ma Thuột",
            "Đắk Lắk",
            "Asia/Ho_Chi_Minh",
            "+07:00",
            "+849",
            ("Lê Duẩn", "Phan Bội Châu"),
        ),
        Place(
            "VN",
            "Huế",
            "Thừa Thiên Huế",
            "Asia/Ho_Chi_Minh",
            "+07:00",
            "+849",
            ("Lê Lợi", "Nguyễn Trãi"),
        ),
    ),
)

ENGLISH = Origin(
    language="en",
    share=0.2,
    family=(
        "Smith",
        "Johnson",
        "Williams",
        "Brown",
        "Jones",
        "Miller",
        "Davis",
        "Wilson",
        "Taylor",
        "Clark",
        "Walker",
        "Young",
        "King",
        "Wright",
        "Hill",
        "Green",
    ),
    middle=(),
    given=(
        "James",
        "Mary",
        "John",
        "Patricia",
        "Robert",
        "Jennifer",
        "Michael",
        "Linda",
        "David",
        "Elizabeth",
        "Sarah",
        "Thomas",
        "Emma",
        "Olivia",
        "Daniel",
        "Grace",
    ),
    family_first=False,
    joiner=" ",
    places=(
        Place(
            "US",
            "New York",
            "NY",
            "America/New_York",
            "-05:00",
            "+1212",
            ("Broadway", "Park Avenue"),
        ),
        Place(
            "US",
            "San Francisco",
            "CA",
            "America/Los_Angeles",
            "-08:00",
            "+1415",
            ("Market Street", "Valencia Street"),
        ),
        Place(
            "GB",
            "London",
            "England",
            "Europe/London",
            "+00:00",
            "+4420",
            ("Baker Street", "Camden Road"),
        ),
        Place(
            "AU",
            "Melbourne",
            "VIC",
            "Australia/Melbourne",
            "+10:00",
            "+613",
            ("Collins Street", "Flinders Lane"),
        ),
        Place(
            "SG",
            "Singapore",
            "Singapore",
            "Asia/Singapore",
            "+08:00",
            "+658",
            ("Orchard Road", "Tiong Bahru Road"),
        ),
    ),
)

CHINESE = Origin(
    language="zh-hans",
    share=0.12,
    family=("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"),
    middle=(),
    given=(
        "伟",
        "芳",
        "娜",
        "秀英",
        "敏",
        "静",
        "丽",
        "强",
        "磊",
        "军",
        "洋",
        "勇",
        "艳",
        "杰",
        "娟",
        "涛",
        "明",
        "超",
        "秀兰",
        "霞",
    ),
    family_first=True,
    joiner="",
    places=(
        Place("CN", "上海", "上海", "Asia/Shanghai", "+08:00", "+86139", ("南京东路", "淮海中路")),
        Place("CN", "北京", "北京", "Asia/Shanghai", "+08:00", "+86138", ("长安街", "王府井大街")),
        Place("CN", "深圳", "广东", "Asia/Shanghai", "+08:00", "+86137", ("深南大道", "华强北路")),
        Place(
            "SG",
            "Singapore",
            "Singapore",
            "Asia/Singapore",
            "+08:00",
            "+659",
            ("Chinatown Street", "Bukit Timah Road"),
        ),
    ),
)

PORTUGUESE = Origin(
    language="pt",
    share=0.12,
    family=(
        "Silva",
        "Santos",
        "Oliveira",
        "Souza",
        "Rodrigues",
        "Ferreira",
        "Alves",
        "Pereira",
        "Lima",
        "Gomes",
        "Costa",
        "Ribeiro",
        "Martins",
        "Carvalho",
        "Araújo",
    ),
    middle=(),
    given=(
        "João",
        "Maria",
        "José",
        "Ana",
        "Francisco",
        "Antônio",
        "Luíza",
        "Gabriel",
        "Lucas",
        "Mariana",
        "Beatriz",
        "Rafael",
        "Júlia",
        "Pedro",
        "Camila",
        "Letícia",
    ),
    family_first=False,
    joiner=" ",
    places=(
        Place(
            "BR",
            "São Paulo",
            "SP",
            "America/Sao_Paulo",
            "-03:00",
            "+55119",
            ("Avenida Paulista", "Rua Augusta"),
        ),
        Place(
            "BR",
            "Rio de Janeiro",
            "RJ",
            "America/Sao_Paulo",
            "-03:00",
            "+55219",
            ("Rua do Ouvidor", "Avenida Atlântica"),
        ),
        Place(
            "BR", "Belo Horizonte", "MG", "America/Sao_Paulo", "-03:00", "+55319", ("Rua da Bahia",)
        ),
        Place(
            "PT",
            "Lisboa",
            "Lisboa",
            "Europe/Lisbon",
            "+00:00",
            "+3519",
            ("Rua Augusta", "Avenida da Liberdade"),
        ),
    ),
)

ORIGINS = (VIETNAMESE, ENGLISH, CHINESE, PORTUGUESE)

# Pinyin for the Chinese name parts, so every customer gets a readable ASCII email.
PINYIN = {
    "王": "wang", "李": "li", "张": "zhang", "刘": "liu", "陈": "chen", "杨": "yang",
    "黄": "huang", "赵": "zhao", "吴": "wu", "周": "zhou", "伟": "wei", "芳": "fang",
    "娜": "na", "秀英": "xiuying", "敏": "min", "静": "jing", "丽": "li", "强": "qiang",
    "磊": "lei", "军": "jun", "洋": "yang", "勇": "yong", "艳": "yan", "杰": "jie",
    "娟": "juan", "涛": "tao", "明": "ming", "超": "chao", "秀兰": "xiulan", "霞": "xia",
}  # fmt: skip

EMAIL_DOMAINS = ("example.com", "example.net", "example.org")


def ascii_fold(text: str) -> str:
    """'Đặng' -> 'dang': lowercase ASCII for email addresses."""
    if text in PINYIN:
        return PINYIN[text]
    text = text.replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


@dataclass
class People:
    """Column arrays of the generated customers (index i is customer i)."""

    names: list[str]
    emails: list[str]
    phones: list[str]
    languages: list[str]
    countries: list[str]
    cities: list[str]
    regions: list[str]
    timezones: list[str]
    offsets: list[str]
    offset_hours: np.ndarray
    lines: list[str]
    postal_codes: list[str]


def make_people(rng: np.random.Generator, count: int) -> People:
    origin_of = rng.choice(len(ORIGINS), size=count, p=[o.share for o in ORIGINS])
    origin_of[0] = 0
    names: list[str] = [""] * count
    emails: list[str] = [""] * count
    phones: list[str] = [""] * count
    languages: list[str] = [""] * count
    countries: list[str] = [""] * count
    cities: list[str] = [""] * count
    regions: list[str] = [""] * count
    timezones: list[str] = [""] * count
    offsets: list[str] = [""] * count
    lines: list[str] = [""] * count
    postal_codes: list[str] = [""] * count
    offset_hours = np.zeros(count)
    has_phone = rng.random(count) < 0.6
    house = rng.integers(1, 300, size=count)
    postal = rng.integers(10000, 99999, size=count)
    for index, origin in enumerate(ORIGINS):
        members = np.flatnonzero(origin_of == index)
        n = len(members)
        family = rng.integers(0, len(origin.family), size=n)
        given = rng.integers(0, len(origin.given), size=n)
        middle = rng.integers(0, len(origin.middle), size=n) if origin.middle else None
        place = rng.integers(0, len(origin.places), size=n)
        street = rng.integers(0, 4, size=n)
        folded_family = [ascii_fold(x) for x in origin.family]
        folded_given = [ascii_fold(x) for x in origin.given]
        for k, i in enumerate(members.tolist()):
            fam = origin.family[family[k]]
            giv = origin.given[given[k]]
            if origin.family_first:
                mid = origin.middle[middle[k]] if middle is not None else ""
                parts = [fam, mid, giv] if mid else [fam, giv]
            else:
                parts = [giv, fam]
            names[i] = origin.joiner.join(parts)
            domain = EMAIL_DOMAINS[i % 3]
            # The index in base 36 keeps every address unique however names repeat.
            handle = f"{folded_given[given[k]]}.{folded_family[family[k]]}"
            emails[i] = f"{handle}.{np.base_repr(i, 36).lower()}@{domain}"
            where = origin.places[place[k]]
            languages[i] = origin.language
            countries[i], cities[i], regions[i] = where.country, where.city, where.region
            timezones[i], offsets[i] = where.timezone, where.offset
            offset_hours[i] = int(where.offset[:3])
            lines[i] = f"{house[i]} {where.streets[street[k] % len(where.streets)]}"
            postal_codes[i] = str(postal[i])
            if has_phone[i]:
                # 7919 is coprime with 10**7, so distinct customers get distinct numbers.
                phones[i] = f"{where.phone_prefix}{(i * 7919 + 1234567) % 10**7:07d}"
    # The running example of the product docs is always customer 0.
    names[0] = "Đặng Lưu Hà"
    emails[0] = "ha.dang@example.com"
    countries[0], cities[0], regions[0], timezones[0], offsets[0] = (
        "VN", "Hà Nội", "Hà Nội", "Asia/Ho_Chi_Minh", "+07:00",
    )  # fmt: skip
    offset_hours[0] = 7
    languages[0] = "vi"
    return People(
        names=names,
        emails=emails,
        phones=phones,
        languages=languages,
        countries=countries,
        cities=cities,
        regions=regions,
        timezones=timezones,
        offsets=offsets,
        offset_hours=offset_hours,
        lines=lines,
        postal_codes=postal_codes,
    )
