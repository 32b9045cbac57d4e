"""Reading rendered console pages in tests: the text of an element, found by its id."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _TextById(HTMLParser):
    def __init__(self, element_id: str):
        super().__init__(convert_charrefs=True)
        self.element_id = element_id
        self.depth = 0
        self.found = False
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        if self.depth:
            self.depth += 1
        elif dict(attrs).get("id") == self.element_id:
            self.depth = 1
            self.found = True

    def handle_endtag(self, tag):
        if self.depth and tag not in VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def text_by_id(html: str | bytes, element_id: str) -> str:
    """The element's text with whitespace collapsed; AssertionError when it is absent."""
    if isinstance(html, bytes):
        html = html.decode()
    parser = _TextById(element_id)
    parser.feed(html)
    assert parser.found, f"no element with id {element_id!r} in the page"
    return " ".join("".join(parser.parts).split())
