from django.contrib import admin

from omnicrm.orders.models import Order, OrderLine, Payment


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ("product",)


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    # Tokens are the payment provider's; staff see brand and last 4 only.
    exclude = ("token",)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("public_id", "customer", "channel", "status", "total", "currency", "placed_at")
    search_fields = ("public_id", "external_id")
    list_filter = ("status", "channel")
    raw_id_fields = ("customer",)
    readonly_fields = ("public_id",)
    inlines = [OrderLineInline, PaymentInline]
