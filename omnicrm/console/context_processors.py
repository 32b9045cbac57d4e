"""Template context every console page gets."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

import omnicrm


def console(request: HttpRequest) -> dict[str, Any]:
    return {"omnicrm_version": omnicrm.__version__}
