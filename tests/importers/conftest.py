"""Fixtures for the importer tests: the bundled Olist sample read independently of the importer."""

from __future__ import annotations

import csv
import gzip
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from omnicrm.importers.services import olist_sample_path

SAMPLE = olist_sample_path()


def read_sample(stem: str, directory: Path = SAMPLE) -> list[dict[str, str]]:
    """Rows of one Olist table, read with the csv module (not the importer's reader)."""
    path = directory / f"{stem}.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def olist_copy(tmp_path: Path) -> Callable[[], Path]:
    """A writable copy of the bundled sample, for tests that change or unpack files."""

    def make() -> Path:
        target = tmp_path / "olist"
        shutil.copytree(SAMPLE, target)
        return target

    return make


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write `text` (leading blank line and indentation removed) as a CSV file."""

    def write(name: str, text: str) -> Path:
        lines = [line.strip() for line in text.strip("\n").splitlines()]
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders files of any size read by a forked process, whatever else runs in the test
    process. A live server thread left by the browser tests makes `fork_available` refuse,
    as it should in production; tests that use this fixture are about what the reading
    process does, and `test_reader_process` tests the refusal itself."""
    from omnicrm.importers.generic import orders, reader_process

    monkeypatch.setattr(reader_process, "fork_available", lambda: True)
    monkeypatch.setattr(orders, "READER_PROCESS_BYTES", 0)
