"""Segments: rules over profiles, consent, orders, events and predictions, compiled to one
query; static lists; membership with its history (see docs/segments.md)."""
