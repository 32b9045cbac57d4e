"""The importers' entry points: Olist, generic CSV files and the synthetic shop generator.

Every write goes through bulk operations in batched transactions (see
docs/adr/0002-bulk-importers.md); each run that changes something leaves one audit row.
"""

from __future__ import annotations

from pathlib import Path

from omnicrm.importers.generator import DemoShopResult, demo_shop_generate
from omnicrm.importers.generic import CsvImportResult, RowError, csv_import
from omnicrm.importers.olist import OlistImportResult, olist_import

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"


def olist_sample_path() -> Path:
    """The bundled Olist subset (3,000 orders, every table), ready for `olist_import`."""
    return SAMPLE_DIR / "olist"


__all__ = [
    "CsvImportResult",
    "DemoShopResult",
    "OlistImportResult",
    "RowError",
    "csv_import",
    "demo_shop_generate",
    "olist_import",
    "olist_sample_path",
]
