"""Reading and checking a CSV file in a second process, while this one writes.

An import is two pipelined jobs: reading and checking rows (pure Python) and writing them
(customer matching, the database). In one process they take turns on one core and
the interpreter lock; on SQLite, whose engine runs inside this process, nothing else
overlaps at all. A forked child runs the reading side instead and hands over each batch
as `marshal` bytes through a pipe: one batch is checked while the previous one is
written, on the machine's other core (docs/adr/0011-import-reader-process.md).

Batches must be marshal-able (str, int, None, tuples, lists, dicts): Decimals and
datetimes travel as text (`bulk.stored_form`), which is what the database is given
anyway. The child may read the database, on connections of its own. Where fork is not
available, other threads are running (forking copies their locks mid-use), or the file
is small, the same generator runs in this process.
"""

from __future__ import annotations

import marshal
import multiprocessing
import pickle
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections

_ITEM = b"I"
_ERROR = b"E"
_END = b"."


# Threads that may run while this process forks: tqdm's progress-bar monitor only sleeps
# and checks its bars, none of which the child uses.
_HARMLESS_THREADS = frozenset({"tqdm_monitor"})


def fork_available() -> bool:
    """Fork is the start method (the child inherits the checked file and parsers as they
    are) and no other thread is running (it could hold a lock the child then waits on)."""
    return "fork" in multiprocessing.get_all_start_methods() and all(
        thread is threading.main_thread() or thread.name in _HARMLESS_THREADS
        for thread in threading.enumerate()
    )


# The database connections the child inherited: they are the parent's sessions (the same
# socket, the same SQLite file handle), so the child never uses or closes them, and keeps
# them referenced so that they are not closed when collected either.
_INHERITED: list[Any] = []


def _own_connections() -> None:
    """Give the child database connections of its own, opened when first used."""
    for wrapper in connections.all(initialized_only=True):
        _INHERITED.append(wrapper)
        connections[wrapper.alias] = wrapper.copy()


def _child(produce: Callable[[], Iterator[Any]], pipe: Any) -> None:
    try:
        _own_connections()
        for item in produce():
            pipe.send_bytes(_ITEM + marshal.dumps(item))
        pipe.send_bytes(_END)
    except BaseException as exc:  # every failure is the parent's to raise
        try:
            payload = pickle.dumps(exc)
            pickle.loads(payload)  # noqa: S301 - some exceptions pickle but do not load
        except Exception:
            payload = pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))
        pipe.send_bytes(_ERROR + payload)
    finally:
        pipe.close()
        for wrapper in connections.all(initialized_only=True):
            if wrapper not in _INHERITED:
                wrapper.close()


@contextmanager
def produced(produce: Callable[[], Iterator[Any]], *, elsewhere: bool) -> Iterator[Iterator[Any]]:
    """The items of `produce()`, made in a forked child when `elsewhere` and fork is safe.

    The child is ended when the block is left, also when the parent stops early (a
    writer failed): it never outlives the import.
    """
    if not (elsewhere and fork_available()):
        yield produce()
        return
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(
        target=_child, args=(produce, send), name="omnicrm-import-reader", daemon=True
    )
    process.start()
    send.close()

    def items() -> Iterator[Any]:
        while True:
            try:
                message = receive.recv_bytes()
            except EOFError:
                raise RuntimeError(
                    f"the import's reading process stopped (exit code {process.exitcode})"
                ) from None
            kind, body = message[:1], message[1:]
            if kind == _ITEM:
                yield marshal.loads(body)  # noqa: S302 - from our own child process
            elif kind == _END:
                return
            else:
                raise pickle.loads(body)  # noqa: S301 - from our own child process

    try:
        yield items()
    finally:
        receive.close()
        if process.is_alive():
            process.terminate()
        process.join()
        if hasattr(process, "close"):
            process.close()


__all__ = ["fork_available", "produced"]
