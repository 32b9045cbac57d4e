"""Orders, their lines and payments; each stage of an order's life has its own timestamp."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from omnicrm.catalog.models import Product
from omnicrm.core.ids import new_order_id
from omnicrm.core.models import TimeStampedModel
from omnicrm.core.money import currency_field, money_field
from omnicrm.customers.models import Customer


class Channel(models.TextChoices):
    WEB = "web", _("Web")
    APP = "app", _("Mobile app")
    STORE = "store", _("Physical store")
    VOICE = "voice", _("Voice assistant")
    PARTNER = "partner", _("Partner store")
    MARKETPLACE = "marketplace", _("Marketplace")
    PHONE = "phone", _("Phone")


class OrderStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    CONFIRMED = "confirmed", _("Confirmed")
    PROCESSING = "processing", _("Processing")
    PACKED = "packed", _("Packed")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELED = "canceled", _("Canceled")
    UNAVAILABLE = "unavailable", _("Unavailable")
    RETURNED = "returned", _("Returned")


# Statuses whose revenue counts: the customer got, or is getting, the goods.
REVENUE_STATUSES = (
    OrderStatus.CONFIRMED,
    OrderStatus.PROCESSING,
    OrderStatus.PACKED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
)


_REVENUE_WITH_CUSTOMER = Q(customer__isnull=False, status__in=[s.value for s in REVENUE_STATUSES])


# Orders, lines and payments are the largest tables and are written in bulk by importers,
# so each carries only the indexes some query needs: every index costs each insert. A
# foreign key whose column leads a composite index or unique constraint gets no index of its
# own, and created_at (never queried here) none at all. Unique ids are constraints rather
# than `unique=True`, which on PostgreSQL would add a second, LIKE-only index to each.


class Order(TimeStampedModel):
    """A purchase by a customer through one channel."""

    created_at = models.DateTimeField(auto_now_add=True)
    public_id = models.CharField(max_length=40, default=new_order_id, editable=False)
    external_id = models.CharField(max_length=100, null=True, blank=True)
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,  # (customer, placed_at) below serves every lookup by customer
    )
    channel = models.CharField(max_length=12, choices=Channel.choices, default=Channel.WEB)
    status = models.CharField(
        max_length=12, choices=OrderStatus.choices, default=OrderStatus.PENDING
    )
    placed_at = models.DateTimeField(db_index=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    packed_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    estimated_delivery_at = models.DateTimeField(null=True, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    currency = currency_field()
    subtotal = money_field(default=0)
    shipping_total = money_field(default=0)
    discount_total = money_field(default=0)
    total = money_field(default=0)

    class Meta:
        ordering = ["-placed_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "placed_at"]),
            # Segments count, sum and date each customer's revenue orders (omnicrm.segments,
            # ADR 0007): this partial index holds exactly those rows and every column the
            # per-customer aggregates read, so they run on the index alone.
            models.Index(
                fields=["customer", "placed_at", "total"],
                condition=_REVENUE_WITH_CUSTOMER,
                name="order_revenue_by_customer",
            ),
            # ... and this one the time windows ("bought Arabica in the last 90 days"); the
            # id is included (PostgreSQL; SQLite indexes carry the rowid) to join the lines.
            models.Index(
                fields=["placed_at", "customer", "total"],
                include=["id"],
                condition=_REVENUE_WITH_CUSTOMER,
                name="order_revenue_by_time",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["public_id"], name="order_public_id_unique"),
            models.UniqueConstraint(fields=["external_id"], name="order_external_id_unique"),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
        ]

    def __str__(self) -> str:
        return self.public_id


class OrderLine(models.Model):
    """One product in an order, with the title and price as they were when ordered."""

    # Served by the unique (order, line_number) and the (product, order) index below.
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
    line_number = models.PositiveIntegerField()
    product = models.ForeignKey(
        Product,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="order_lines",
        db_index=False,
    )
    sku = models.CharField(max_length=100)
    title = models.CharField(max_length=300, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = money_field()
    shipping = money_field(default=0)
    total = money_field()
    seller_ref = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["order_id", "line_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "line_number"], name="orderline_number_unique"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="orderline_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="orderline_price_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["product", "order"])]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class PaymentMethod(models.TextChoices):
    CREDIT_CARD = "credit_card", _("Credit card")
    DEBIT_CARD = "debit_card", _("Debit card")
    BANK_SLIP = "bank_slip", _("Bank slip")
    VOUCHER = "voucher", _("Voucher")
    CASH = "cash", _("Cash")
    WALLET = "wallet", _("Wallet")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    OTHER = "other", _("Other")


class Payment(TimeStampedModel):
    """A payment of an order. Card numbers are never stored: a provider token, brand, last 4."""

    created_at = models.DateTimeField(auto_now_add=True)
    # Served by the unique (order, sequence).
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="payments", db_index=False
    )
    sequence = models.PositiveIntegerField(default=1)
    method = models.CharField(max_length=15, choices=PaymentMethod.choices)
    amount = money_field()
    currency = currency_field()
    installments = models.PositiveIntegerField(default=1)
    token = models.CharField(max_length=200, blank=True)
    brand = models.CharField(max_length=30, blank=True)
    last4 = models.CharField(max_length=4, blank=True)

    class Meta:
        ordering = ["order_id", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["order", "sequence"], name="payment_sequence_unique"),
            models.CheckConstraint(
                condition=Q(last4="") | Q(last4__regex=r"^[0-9]{4}$"), name="payment_last4_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.amount} {self.currency}"
