"""The synthetic shop generator: realistic customers, products and orders as generic CSV.

`people` makes the customers, `catalog` the products, `shop` simulates their purchases
(a BG/NBD-like process with seasonality) and writes the three files.
"""

from omnicrm.importers.generator.shop import DemoShopResult, demo_shop_generate

__all__ = ["DemoShopResult", "demo_shop_generate"]
