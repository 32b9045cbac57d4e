from django.contrib import admin

from omnicrm.reviews.models import Review, WishlistItem


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = (
        "public_id",
        "product",
        "customer",
        "rating",
        "verified_purchase",
        "reviewed_at",
    )
    list_filter = ("rating", "verified_purchase")
    search_fields = ("public_id", "title")
    raw_id_fields = ("customer", "product", "order")


@admin.register(WishlistItem)
class WishlistItemAdmin(admin.ModelAdmin):
    list_display = ("customer", "product", "created_at")
    raw_id_fields = ("customer", "product")
