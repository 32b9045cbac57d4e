"""Domain errors: every interface (API, console, CLI) maps these to its own form."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A business rule said no. `code` is machine-readable, `message` is for people."""

    status = 400
    code = "invalid"

    def __init__(
        self, message: str, *, field: str | None = None, extra: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}


class ValidationFailed(ApplicationError):
    status = 422
    code = "validation_error"


class NotFound(ApplicationError):
    status = 404
    code = "not_found"


class Conflict(ApplicationError):
    status = 409
    code = "conflict"


class PermissionDenied(ApplicationError):
    status = 403
    code = "forbidden"
