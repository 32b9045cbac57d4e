"""What every generic CSV import shares: the file and its header, row errors, the result."""

from __future__ import annotations

import csv
import itertools
import queue
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _
from tqdm import tqdm

from omnicrm.importers.bulk import import_session
from omnicrm.importers.files import open_text
from omnicrm.importers.generic.fields import BadCell

# The pseudo field named when a whole record is malformed rather than one cell.
ROW = "(row)"
# What the csv module reads differently from "one line, fields between commas".
_LONE_CR = re.compile(r"\r(?!\n)")
_BLOCK = 1 << 22


@dataclass(frozen=True)
class RowError:
    """One rejected row: the line it starts on (header = line 1), the column and why."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: field {self.field}: {self.message}"


@dataclass
class CsvImportResult:
    """The outcome of one `csv_import`: counts, every rejected row and notes worth reading."""

    kind: str
    path: str
    dry_run: bool
    rows: int = 0
    applied: int = 0
    rejected: int = 0
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def changed(self) -> bool:
        return any(self.created.values()) or any(self.updated.values())

    def count(self, table: str, *, created: int = 0, updated: int = 0) -> None:
        self.created[table] = self.created.get(table, 0) + created
        self.updated[table] = self.updated.get(table, 0) + updated

    def reject(self, line: int, field_name: str, message: str) -> None:
        self.errors.append(RowError(line, field_name, message))
        self.rejected += 1

    def merge(self, other: CsvImportResult) -> None:
        """Add what a writer thread recorded in its own result."""
        self.applied += other.applied
        self.rejected += other.rejected
        self.errors.extend(other.errors)
        self.notes.extend(other.notes)
        for table, n in other.created.items():
            self.count(table, created=n)
        for table, n in other.updated.items():
            self.count(table, updated=n)


class CsvFile:
    """A CSV file whose header is checked against the columns an import understands.

    Cells are read by position; a column missing from the header reads as "" (each record
    gets one empty cell appended and absent columns point at it), which keeps the per-row
    code free of lookups.
    """

    def __init__(self, path: Path, *, known: Sequence[str], required: Sequence[str]):
        self.path = path
        with open_text(path) as handle:
            header = next(csv.reader(handle), [])
        self.header = [name.strip().lower() for name in header]
        self.width = len(self.header)
        self.problems: list[RowError] = []
        seen: set[str] = set()
        for name in self.header:
            if name in seen:
                self.problems.append(RowError(1, name, _("the column appears twice")))
            seen.add(name)
            if name not in known:
                self.problems.append(
                    RowError(
                        1,
                        name or ROW,
                        _("unknown column; the columns are: %(columns)s")
                        % {"columns": ", ".join(known)},
                    )
                )
        for name in required:
            if name not in seen:
                self.problems.append(RowError(1, name, _("required column is missing")))
        self.index = {name: (self.header.index(name) if name in seen else -1) for name in known}

    def has(self, *names: str) -> bool:
        return any(self.index[name] >= 0 for name in names)

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """(line where the record starts, cells + one trailing ""); blank lines skipped."""
        with open_text(self.path) as handle:
            reader = csv.reader(handle)
            next(reader, None)
            end = 1
            for record in reader:
                line = end + 1
                end = reader.line_num
                if not record:
                    continue
                record.append("")
                yield line, record

    def count(self) -> int:
        cells = self._plain_column(0)
        if cells is not None:
            return len(cells)
        return sum(1 for _record in self.column(0))

    def last_records(self, index: int) -> tuple[dict[str, int], int]:
        """{cell of column `index`, stripped: number of the last record holding it} and
        the number of records (the first record is 1; blank lines are not records)."""
        cells = self._plain_column(index)
        if cells is None:
            last: dict[str, int] = {}
            total = 0
            for total, cell in enumerate(self.column(index), start=1):
                last[cell.strip()] = total
            return last, total
        # Later records overwrite earlier ones: each key keeps its last record number.
        return dict(zip(map(str.strip, cells), itertools.count(1))), len(cells)

    def _plain_column(self, index: int) -> list[str] | None:
        """`list(self.column(index))` without the csv module, when the file has no quotes.

        Without a quote character no field can hold a comma or a line break, so every
        line is one record and its fields are what lies between the commas: splitting
        lines is several times cheaper than parsing every field of every row. Files with
        quotes, NULs or a carriage return that does not end a line (the csv module reads
        those its own way) return None, and the caller falls back to `column`. A cell
        may keep the line's trailing carriage return; callers strip cells.
        """
        cells: list[str] = []
        with open_text(self.path) as handle:
            if not _plain(handle.readline()):
                return None
            rest = ""
            while True:
                block = handle.read(_BLOCK)
                text = rest + block
                if block:
                    # Whole lines only; the rest starts the next block.
                    cut = text.rfind("\n") + 1
                    text, rest = text[:cut], text[cut:]
                if not _plain(text):
                    return None
                # Blank lines are no records, as for the csv module.
                lines = [line for line in text.split("\n") if line and line != "\r"]
                if index == 0:
                    cells.extend([line.partition(",")[0] for line in lines])
                else:
                    for line in lines:
                        fields = line.split(",", index + 1)
                        cells.append(fields[index] if index < len(fields) else "")
                if not block:
                    return cells

    def column(self, index: int) -> Iterator[str]:
        """One cell of every record ("" where a record is too short); a quick first pass."""
        with open_text(self.path) as handle:
            reader = csv.reader(handle)
            next(reader, None)
            for record in reader:
                if record:
                    yield record[index] if index < len(record) else ""


def _plain(text: str) -> bool:
    return not ('"' in text or "\0" in text or ("\r" in text and _LONE_CR.search(text)))


def progress_bar(label: str, total: int, enabled: bool) -> tqdm:
    return tqdm(
        total=total, desc=label, unit="row", disable=not enabled, file=sys.stderr, leave=True
    )


_DONE = object()


def others_see_commits() -> bool:
    """Whether another connection (a writer thread's, the reading process's) sees what
    this one has committed: not while this one is inside a transaction, nor with an
    in-memory database, which is private to its connection."""
    database = str(connection.settings_dict.get("NAME") or "")
    return (
        not connection.in_atomic_block
        and ":memory:" not in database
        and "mode=memory" not in database
    )


class BatchRunner:
    """Hands batches of checked rows to writers, in background threads when it helps.

    Reading and checking rows is Python work; on PostgreSQL writing them is mostly the
    server's work, during which a writer waits without holding the interpreter lock, so
    writer threads on their own connections let the two overlap. With more than one writer
    (`writers`), one can build and send its batch while PostgreSQL checks and commits
    another's, on the machine's other core. SQLite writes in-process and hands the lock
    back and forth for every row, which makes a second thread slower, not faster (measured
    again on 2026-11-24: no gain); it, and any import inside a transaction (a dry run, a
    caller's `atomic`, tests), applies batches inline. Each writer thread records into its
    own result, merged when the runner closes.

    `prepare`, if given, runs on each batch in the submitting thread before a writer gets
    it, in a transaction of its own when writers run in the background (in the batch's
    transaction otherwise): work that later batches must see committed, whichever writer
    takes them.
    """

    def __init__(
        self,
        make_writer: Callable[[CsvImportResult], Any],
        result: CsvImportResult,
        *,
        threaded: bool,
        writers: int = 1,
        prepare: Callable[[list[Any]], list[Any]] | None = None,
    ):
        self.result = result
        self.prepare = prepare
        self.threaded = threaded and connection.vendor == "postgresql" and others_see_commits()
        self.owns: list[CsvImportResult] = []
        self.error: BaseException | None = None
        if not self.threaded:
            self.writers = [make_writer(result)]
            return
        for _number in range(max(1, writers)):
            self.owns.append(
                CsvImportResult(kind=result.kind, path=result.path, dry_run=result.dry_run)
            )
        self.writers = [make_writer(own) for own in self.owns]
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=len(self.writers) + 1)
        self.threads = [
            threading.Thread(
                target=self._work, args=(writer,), name="omnicrm-import-writer", daemon=True
            )
            for writer in self.writers
        ]
        for thread in self.threads:
            thread.start()

    @property
    def writer(self) -> Any:
        return self.writers[0]

    def _work(self, writer: Any) -> None:
        try:
            with import_session():
                while (batch := self.queue.get()) is not _DONE:
                    if self.error is None:
                        with transaction.atomic():
                            writer.apply(batch)
        except BaseException as exc:  # handed to the reading thread, which raises it
            if self.error is None:  # the first writer's error, not a later one's
                self.error = exc
            # Keep consuming so the reading thread never blocks on a full queue.
            while self.queue.get() is not _DONE:
                pass
        finally:
            connection.close()

    def submit(self, batch: list[Any]) -> None:
        if not self.threaded:
            with transaction.atomic():
                self.writer.apply(self.prepare(batch) if self.prepare else batch)
            return
        if self.error is not None:
            self._stop()
        if self.prepare is not None:
            with transaction.atomic():
                batch = self.prepare(batch)
        self.queue.put(batch)

    def __enter__(self) -> BatchRunner:
        return self

    def _finish(self) -> None:
        for _thread in self.threads:
            self.queue.put(_DONE)
        for thread in self.threads:
            thread.join()

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if not self.threaded:
            return
        self._finish()
        if kind is not None:
            return
        if self.error is not None:
            raise self.error
        for own in self.owns:
            self.result.merge(own)

    def _stop(self) -> None:
        error = self.error
        assert error is not None
        self.threaded = False  # the threads are finishing; __exit__ has nothing to wait for
        self._finish()
        raise error


def import_rows(
    csv_file: CsvFile,
    result: CsvImportResult,
    *,
    label: str,
    duplicate: str,
    parse: Callable[[int, list[str], dict[str, int]], Any],
    keys: Callable[[Any], list[tuple[str, str]]],
    make_writer: Callable[[CsvImportResult], Any],
    batch_size: int,
    progress: bool,
    threaded: bool,
) -> None:
    """The loop of the one-row-per-entity kinds (customers, products): check each row,
    reject a row naming the same entity as an earlier one (`duplicate`, a message with
    %(line)d), apply good rows in batches."""
    col = csv_file.index
    width = csv_file.width + 1
    first_line: dict[tuple[str, str], int] = {}
    batch: list[Any] = []
    with (
        BatchRunner(make_writer, result, threaded=threaded) as runner,
        progress_bar(label, csv_file.count(), progress) as bar,
    ):
        for line, cell in csv_file.records():
            result.rows += 1
            if len(cell) != width:
                message = _("expected %(n)d fields, found %(m)d") % {
                    "n": width - 1,
                    "m": len(cell) - 1,
                }
                result.reject(line, ROW, message)
                continue
            try:
                row = parse(line, cell, col)
                row_keys = keys(row)
                for key in row_keys:
                    if key in first_line:
                        raise BadCell(key[0], duplicate % {"line": first_line[key]})
                first_line.update(dict.fromkeys(row_keys, line))
            except BadCell as bad:
                result.reject(line, bad.field, bad.reason)
                continue
            batch.append(row)
            if len(batch) >= batch_size:
                runner.submit(batch)
                bar.update(len(batch))
                batch = []
        if batch:
            runner.submit(batch)
        bar.update(bar.total - bar.n)
