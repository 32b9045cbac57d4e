"""Every app ships its own catalog; Django takes the first app's translation of a msgid, so
two apps translating the same msgid differently would make one of them silently wrong."""

from __future__ import annotations

import gettext
from collections import defaultdict
from pathlib import Path

import pytest

import omnicrm

LANGUAGES = ["vi", "zh_Hans"]
# Same English word, different meaning in the two places; disambiguate with pgettext later.
KNOWN_HOMONYMS = {"Name"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_two_catalogs_translate_the_same_text_differently(language):
    root = Path(omnicrm.__file__).parent
    translations: dict[str, dict[str, str]] = defaultdict(dict)
    catalogs = sorted(root.glob(f"*/locale/{language}/LC_MESSAGES/django.mo"))
    for path in catalogs:
        with path.open("rb") as handle:
            catalog = gettext.GNUTranslations(handle)
        for msgid, msgstr in catalog._catalog.items():  # type: ignore[attr-defined]
            if isinstance(msgid, str) and msgid and msgid not in KNOWN_HOMONYMS:
                translations[msgid][path.parts[-5]] = msgstr

    conflicts = {m: t for m, t in translations.items() if len(set(t.values())) > 1}

    assert len(catalogs) >= 2
    assert conflicts == {}
