"""The HTTP API fixtures (real API keys, a JSON client) for the reviews API tests."""

from tests.api.conftest import api, api_as, make_key  # noqa: F401
