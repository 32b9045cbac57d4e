"""`omnicrm openapi [--write PATH]`: print the API's OpenAPI schema, or refresh the snapshot.

The committed snapshot (docs/openapi.json) is compared with the live schema by the tests,
so a change to the API contract is always deliberate: change the code, then run
`omnicrm openapi --write docs/openapi.json` and commit both.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from omnicrm.api import api


def openapi_json() -> str:
    """The live schema as stable JSON text (sorted keys, 2-space indent, final newline)."""
    schema = api.get_openapi_schema()
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


class Command(BaseCommand):
    help = "Print the OpenAPI schema of /api, or write it to a file with --write."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--write", metavar="PATH", help="Write the schema to PATH.")

    def handle(self, *args: Any, **options: Any) -> None:
        text = openapi_json()
        if options["write"]:
            path = Path(options["write"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            self.stdout.write(f"Wrote {path} ({len(text)} bytes)")
        else:
            self.stdout.write(text, ending="")
