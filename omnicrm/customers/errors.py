"""Domain errors of profile merges; the API and the console map them like every other."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from omnicrm.core.errors import Conflict, ValidationFailed


class CustomerMerged(Conflict):
    """The profile was merged into another; its data now lives on ``merged_into``."""

    code = "customer_merged"

    def __init__(self, *, public_id: str, merged_into: str):
        super().__init__(
            _("customer %(id)s was merged into %(primary)s; use that id")
            % {"id": public_id, "primary": merged_into},
            field="id",
            extra={"merged_into": merged_into},
        )


class MergeBlocked(Conflict):
    """A merge rule refuses this merge; ``reasons`` says which, in words and codes."""

    code = "merge_blocked"

    def __init__(self, reasons: list[dict[str, Any]]):
        message = _("the merge is blocked: %(reasons)s") % {
            "reasons": "; ".join(r["message"] for r in reasons)
        }
        super().__init__(message, extra={"reasons": reasons})


class SelfMerge(ValidationFailed):
    code = "self_merge"

    def __init__(self) -> None:
        super().__init__(_("a customer cannot be merged with itself"), field="other")


class AlreadySplit(Conflict):
    code = "already_split"

    def __init__(self, *, public_id: str):
        super().__init__(
            _("merge %(id)s was already split") % {"id": public_id}, extra={"merge": public_id}
        )


class SplitRefused(Conflict):
    code = "split_refused"
