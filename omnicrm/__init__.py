"""omnicrm: the customer machinery of a large online store, for small ones."""

__version__ = "0.1.0"
