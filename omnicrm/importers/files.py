"""Opening the files importers read: `.csv` or `.csv.gz`, UTF-8 with or without a BOM."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Literal, overload

from django.utils.translation import gettext as _

from omnicrm.core.errors import ValidationFailed

# Review comments and product texts can be long; the csv module's 128 KiB default is not.
csv.field_size_limit(16 * 1024 * 1024)


@contextmanager
def open_text(path: Path) -> Iterator[IO[str]]:
    """A text handle on a plain or gzip-compressed CSV file.

    `utf-8-sig` drops the byte order mark some exports (Olist's category translation,
    Excel) start with, so the first column name reads cleanly.
    """
    if path.name.endswith(".gz"):
        raw = gzip.open(path, "rb")  # noqa: SIM115 - closed by the wrapper below
        handle: IO[str] = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    else:
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
    try:
        yield handle
    finally:
        handle.close()


@overload
def locate_table(directory: Path, name: str, *, required: Literal[True] = True) -> Path: ...


@overload
def locate_table(directory: Path, name: str, *, required: bool) -> Path | None: ...


def locate_table(directory: Path, name: str, *, required: bool = True) -> Path | None:
    """`<name>.csv` or `<name>.csv.gz` in `directory`; each file may be either."""
    plain = directory / f"{name}.csv"
    packed = directory / f"{name}.csv.gz"
    if plain.exists() and packed.exists():
        raise ValidationFailed(
            _("both %(plain)s and %(packed)s exist; keep only one of them")
            % {"plain": plain.name, "packed": packed.name},
            field=name,
        )
    if plain.exists():
        return plain
    if packed.exists():
        return packed
    if required:
        raise ValidationFailed(
            _("%(directory)s has no %(name)s.csv or %(name)s.csv.gz")
            % {"directory": directory, "name": name},
            field=name,
        )
    return None


def read_header(path: Path) -> list[str]:
    with open_text(path) as handle:
        return [column.strip() for column in next(csv.reader(handle), [])]


def count_records(path: Path) -> int:
    """Number of CSV records after the header (fields may span lines, so not `wc -l`)."""
    with open_text(path) as handle:
        reader = csv.reader(handle)
        next(reader, None)
        return sum(1 for _row in reader)
