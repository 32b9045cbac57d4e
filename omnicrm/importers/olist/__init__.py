"""Import of the Olist Brazilian e-commerce data set (all tables, `.csv` or `.csv.gz`).

`source` reads and checks every file before anything is written; `stages` writes them in
batches, one transaction per batch, matching rows on stable keys so a re-run is a no-op;
`sample` cuts the consistent subset bundled with omnicrm.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "OlistImportResult",
    "customer_identity",
    "olist_import",
    "order_external_id",
    "review_external_id",
]


def __getattr__(name: str) -> Any:
    # Loaded on first use, so `python -m omnicrm.importers.olist.sample` runs without
    # Django's app registry.
    if name in __all__:
        from omnicrm.importers.olist import stages

        return getattr(stages, name)
    raise AttributeError(name)
