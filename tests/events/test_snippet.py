"""/t.js: the first-party tracking snippet omnicrm serves."""

from __future__ import annotations

from pathlib import Path

import omnicrm


def test_the_snippet_is_served_as_cacheable_javascript_for_any_site(client):
    response = client.get("/t.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "max-age=3600" in response["Cache-Control"]
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"
    source = Path(omnicrm.__file__).parent / "events" / "static" / "events" / "omnicrm.js"
    assert response.content == source.read_bytes()


def test_the_snippet_uses_a_first_party_lax_cookie_and_sendbeacon():
    text = (
        Path(omnicrm.__file__).parent / "events" / "static" / "events" / "omnicrm.js"
    ).read_text()

    assert "ocrm_aid" in text and "SameSite=Lax" in text and "Max-Age=31536000" in text
    assert "navigator.sendBeacon" in text and "keepalive" in text
    # No third-party host is ever contacted: every URL is built from the omnicrm host.
    assert "http://" not in text and "https://" not in text.replace("https://crm.example.com", "")
