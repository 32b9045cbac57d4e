from django.contrib import admin

from omnicrm.catalog.models import Category, Product


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "parent")
    search_fields = ("name", "slug")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("public_id", "sku", "title", "category", "price", "currency", "stock")
    search_fields = ("public_id", "sku", "title")
    list_filter = ("category", "is_active")
    readonly_fields = ("public_id",)
