"""Derived customer analytics: RFM scores and predictions per customer, the per-category
reorder forecast, and the record of each refresh run.

Every row here is recomputable from customers and orders (`omnicrm analytics refresh`); none is
a source of truth. Values that can be unknown are NULL, never NaN.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from omnicrm.core.models import TimeStampedModel
from omnicrm.core.money import currency_field, money_field


class RFMSegment(models.TextChoices):
    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL_LOYALIST = "potential_loyalist", _("Potential loyalist")
    NEW = "new", _("New customer")
    PROMISING = "promising", _("Promising")
    NEED_ATTENTION = "need_attention", _("Needs attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("About to sleep")
    AT_RISK = "at_risk", _("At risk")
    CANNOT_LOSE = "cannot_lose", _("Cannot lose them")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")


class ChurnRisk(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class PredictionModel(models.TextChoices):
    BGNBD = "bgnbd", _("BG/NBD + Gamma-Gamma")
    RFM_FALLBACK = "rfm_fallback", _("RFM rules (fallback)")


class CustomerMetrics(models.Model):
    """One row per customer: order aggregates, RFM scores and segment, and the predictions of
    the last refresh. Customers without orders have a row with order_count 0 and no scores."""

    # Derived tables carry no database-level foreign keys (db_constraint=False): the nightly
    # refresh bulk-loads a row per customer, and PostgreSQL's key checks would lock every
    # customer row to do it. Deletes still cascade through the ORM, and the refresh replaces
    # every row from the customers that exist.
    customer = models.OneToOneField(
        "customers.Customer",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="metrics",
        db_constraint=False,
    )
    order_count = models.IntegerField(default=0)
    revenue = money_field(default=0)
    currency = currency_field(blank=True)
    first_order_at = models.DateTimeField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True)
    recency_days = models.IntegerField(null=True, blank=True)
    rfm_r = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_f = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_m = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_score = models.CharField(max_length=3, blank=True)
    rfm_segment = models.CharField(max_length=20, choices=RFMSegment.choices, blank=True)
    expected_purchases_30d = models.FloatField(default=0.0)
    p_alive = models.FloatField(null=True, blank=True)
    p_order_30d = models.FloatField(null=True, blank=True)
    expected_order_value = money_field(null=True, blank=True)
    clv_12m = money_field(null=True, blank=True)
    next_order_at = models.DateTimeField(null=True, blank=True)
    churn_risk = models.CharField(max_length=6, choices=ChurnRisk.choices, blank=True)
    model = models.CharField(max_length=12, choices=PredictionModel.choices, blank=True)
    top_category = models.ForeignKey(
        "catalog.Category",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    computed_at = models.DateTimeField()
    # Additive to the agreed fields: parameter-uncertainty intervals, category affinity
    # ({category_id: share of spend} for the shop's top categories) and seasonality (12
    # shares of the customer's orders by month of year, January first).
    expected_purchases_30d_low = models.FloatField(null=True, blank=True)
    expected_purchases_30d_high = models.FloatField(null=True, blank=True)
    clv_12m_low = money_field(null=True, blank=True)
    clv_12m_high = money_field(null=True, blank=True)
    category_affinity = models.JSONField(default=dict, blank=True)
    seasonality = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["customer_id"]
        verbose_name_plural = "customer metrics"
        constraints = [
            models.CheckConstraint(
                condition=Q(order_count__gte=0), name="customermetrics_order_count_not_negative"
            ),
            models.CheckConstraint(
                condition=(Q(rfm_r__isnull=True) | Q(rfm_r__gte=1, rfm_r__lte=5))
                & (Q(rfm_f__isnull=True) | Q(rfm_f__gte=1, rfm_f__lte=5))
                & (Q(rfm_m__isnull=True) | Q(rfm_m__gte=1, rfm_m__lte=5)),
                name="customermetrics_rfm_scores_1_to_5",
            ),
            models.CheckConstraint(
                condition=Q(p_alive__isnull=True) | Q(p_alive__gte=0, p_alive__lte=1),
                name="customermetrics_p_alive_probability",
            ),
        ]
        indexes = [
            models.Index(fields=["rfm_segment"], name="custmetrics_segment_idx"),
            models.Index(fields=["rfm_r", "rfm_f"], name="custmetrics_rf_idx"),
            models.Index(fields=["-clv_12m"], name="custmetrics_clv_idx"),
        ]

    def __str__(self) -> str:
        return f"metrics of customer {self.customer_id}"


class CategoryReorder(models.Model):
    """Expected reorders of one category by one customer in the next 30 days, and the chance
    of at least one. Stored only for customers who bought the category before."""

    # No database-level foreign keys, for the reason given on CustomerMetrics.customer, and
    # no single-column indexes either: the unique (customer, category) and the (category,
    # probability) indexes already start with each column, and every index slows the load.
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="category_reorders",
        db_constraint=False,
        db_index=False,
    )
    category = models.ForeignKey(
        "catalog.Category",
        on_delete=models.CASCADE,
        related_name="reorder_forecasts",
        db_constraint=False,
        db_index=False,
    )
    expected_reorders_30d = models.FloatField()
    probability = models.FloatField()
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["category_id", "-probability", "customer_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "category"], name="categoryreorder_customer_category_unique"
            ),
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=1),
                name="categoryreorder_probability_range",
            ),
            models.CheckConstraint(
                condition=Q(expected_reorders_30d__gte=0),
                name="categoryreorder_expected_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["category", "-probability"], name="catreorder_cat_prob_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} / {self.category_id}: {self.probability:.2f}"


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class AnalyticsRun(TimeStampedModel):
    """One full refresh of the customer metrics: its progress for the console, its outcome,
    and the fitted model parameters that a single-customer refresh reuses."""

    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(max_length=20, blank=True)
    as_of = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    customers = models.IntegerField(default=0)
    orders = models.IntegerField(default=0)
    model = models.CharField(max_length=12, choices=PredictionModel.choices, blank=True)
    model_note = models.TextField(blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="analyticsrun_progress_percent"
            ),
        ]

    def __str__(self) -> str:
        return f"analytics run {self.pk} ({self.status})"
