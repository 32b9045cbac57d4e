"""BLAS on one thread while the models run.

The fits call BLAS only on 4x4 matrices and 4-vectors (L-BFGS-B, Newton steps), where
OpenBLAS's thread pool brings nothing but hand-offs; on a machine whose other cores are busy
those hand-offs were measured to make a CDNOW fit five times slower (30 ms instead of 5 ms).
The limit is process-wide while it lasts (OpenBLAS has no per-thread setting): another thread
doing BLAS work at that moment runs single-threaded for those milliseconds, nothing worse.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from threadpoolctl import ThreadpoolController

P = ParamSpec("P")
R = TypeVar("R")

_controller: Any = None


def _blas_limit() -> Any:
    global _controller
    if _controller is None:
        # Inspecting the loaded libraries takes milliseconds: done once, on first use.
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def single_threaded_blas(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _blas_limit():
            return fn(*args, **kwargs)

    return wrapper
