"""factory_boy factories shared by every test package."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from omnicrm.catalog.models import Category, Product
from omnicrm.customers.models import Customer, Identity
from omnicrm.orders.models import Order, OrderLine, OrderStatus, Payment
from omnicrm.reviews.models import Review


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    country = "VN"
    city = "Hanoi"
    language = "vi"


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Identity

    customer = factory.SubFactory(CustomerFactory)
    kind = "email"
    value = factory.LazyAttribute(lambda o: o.customer.email)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"category-{n}")
    name = factory.Sequence(lambda n: f"Category {n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    title = factory.Sequence(lambda n: f"Product {n}")
    category = factory.SubFactory(CategoryFactory)
    price = Decimal("10.00")
    currency = "USD"
    stock = 10


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    customer = factory.SubFactory(CustomerFactory)
    status = OrderStatus.DELIVERED
    placed_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=10))
    currency = "USD"
    total = Decimal("10.00")
    subtotal = Decimal("10.00")


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    line_number = factory.Sequence(lambda n: n + 1)
    product = factory.SubFactory(ProductFactory)
    sku = factory.LazyAttribute(lambda o: o.product.sku)
    title = factory.LazyAttribute(lambda o: o.product.title)
    quantity = 1
    unit_price = Decimal("10.00")
    total = Decimal("10.00")


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    order = factory.SubFactory(OrderFactory)
    sequence = 1
    method = "credit_card"
    amount = Decimal("10.00")
    currency = "USD"
    token = factory.Sequence(lambda n: f"tok_{n:08d}")
    brand = "visa"
    last4 = "4242"


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    customer = factory.SubFactory(CustomerFactory)
    product = factory.SubFactory(ProductFactory)
    rating = 5
    title = "Great"
    body = "Would buy again"
    verified_purchase = True
    reviewed_at = factory.LazyFunction(timezone.now)
