from django.contrib import admin

from omnicrm.customers.models import (
    Address,
    Consent,
    ConsentEvent,
    Customer,
    CustomerMerge,
    Identity,
    IdentityBlocklist,
)


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
    readonly_fields = (
        "public_id",
        "created_at",
        "updated_at",
        "erased_at",
        "merged_into",
        "merged_at",
    )
    inlines = [IdentityInline, AddressInline, ConsentInline]


@admin.register(ConsentEvent)
class ConsentEventAdmin(admin.ModelAdmin):
    list_display = ("customer", "channel", "status", "source", "occurred_at")
    list_filter = ("channel", "status")
    raw_id_fields = ("customer",)


@admin.register(IdentityBlocklist)
class IdentityBlocklistAdmin(admin.ModelAdmin):
    """Placeholder values that never identify anyone; they take effect on the next event."""

    list_display = ("kind", "pattern", "note", "created_at")
    list_filter = ("kind",)
    search_fields = ("pattern", "note")
    readonly_fields = ("created_by", "created_at", "updated_at")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(CustomerMerge)
class CustomerMergeAdmin(admin.ModelAdmin):
    """Read-only: merges are made and split through the console or the API, which keep the
    record and the data consistent."""

    list_display = ("public_id", "primary", "secondary", "trigger", "status", "merged_at")
    list_filter = ("status", "trigger")
    search_fields = ("public_id", "primary__public_id", "secondary__public_id")
    raw_id_fields = ("primary", "secondary")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
