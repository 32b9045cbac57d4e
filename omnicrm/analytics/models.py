"""Analytics owns no tables yet: its figures are computed from orders and customers."""
