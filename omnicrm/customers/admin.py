from django.contrib import admin

from omnicrm.customers.models import Address, Consent, ConsentEvent, Customer, Identity


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0


class AddressInline(admin.StackedInline):
    model = Address
    extra = 0


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("public_id", "name", "email", "phone", "country", "city", "created_at")
    search_fields = ("public_id", "name", "email", "phone")
    list_filter = ("country", "language")
    readonly_fields = ("public_id", "created_at", "updated_at", "erased_at")
    inlines = [IdentityInline, AddressInline, ConsentInline]


@admin.register(ConsentEvent)
class ConsentEventAdmin(admin.ModelAdmin):
    list_display = ("customer", "channel", "status", "source", "occurred_at")
    list_filter = ("channel", "status")
    raw_id_fields = ("customer",)
