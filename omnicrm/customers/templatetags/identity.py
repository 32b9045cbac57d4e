"""The merge parts of the Customer 360 page: a banner on a merged profile and the merge
history, with a Split button for those who may split."""

from __future__ import annotations

from typing import Any

from django import template

from omnicrm.customers.merge import customer_merge_history
from omnicrm.customers.models import Customer
from omnicrm.customers.services import customer_live

register = template.Library()

HISTORY_SHOWN = 20


@register.inclusion_tag("customers/partials/_merge_banner.html")
def merge_banner(customer: Customer) -> dict[str, Any]:
    return {
        "customer": customer,
        "live": customer_live(customer) if customer.merged_into_id else None,
    }


@register.inclusion_tag("customers/partials/_merge_history.html", takes_context=True)
def merge_history(context: template.Context, customer: Customer) -> dict[str, Any]:
    user = context["request"].user
    return {
        "customer": customer,
        "merges": list(customer_merge_history(customer=customer)[:HISTORY_SHOWN]),
        "can_merge": user.has_perm("customers.merge_customer"),
    }
