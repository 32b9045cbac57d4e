"""Customer predictions: BG/NBD, Gamma-Gamma, CLV and their RFM fallback.

A pure numerical layer (numpy/scipy, no database): transaction log -> per-customer summary ->
fitted models -> per-customer predictions and the calibration/holdout check. The CLI
(`omnicrm analytics fit-csv`) and the prediction jobs build on it. See docs/predictions.md and
docs/adr/0004-clv-models.md.
"""

from omnicrm.analytics.clv.bgnbd import (
    BGNBDFit,
    BGNBDParams,
    ParameterEstimate,
    bgnbd_fit,
    bgnbd_log_likelihood,
    conditional_expected_purchases,
    probability_alive,
)
from omnicrm.analytics.clv.errors import ModelNotFittable, TransactionLogInvalid
from omnicrm.analytics.clv.gamma_gamma import (
    GammaGammaFit,
    GammaGammaParams,
    expected_order_value,
    gamma_gamma_fit,
    gamma_gamma_log_likelihood,
)
from omnicrm.analytics.clv.holdout import (
    CalibrationHoldout,
    HoldoutRow,
    holdout_table,
    split_calibration_holdout,
)
from omnicrm.analytics.clv.predict import (
    CustomerPredictions,
    Interval,
    customer_lifetime_value,
    predict_customers,
)
from omnicrm.analytics.clv.rfm import RFMScores, rfm_scores
from omnicrm.analytics.clv.summary import CustomerSummary, summarize_transactions

__all__ = [
    "BGNBDFit",
    "BGNBDParams",
    "CalibrationHoldout",
    "CustomerPredictions",
    "CustomerSummary",
    "GammaGammaFit",
    "GammaGammaParams",
    "HoldoutRow",
    "Interval",
    "ModelNotFittable",
    "ParameterEstimate",
    "RFMScores",
    "TransactionLogInvalid",
    "bgnbd_fit",
    "bgnbd_log_likelihood",
    "conditional_expected_purchases",
    "customer_lifetime_value",
    "expected_order_value",
    "gamma_gamma_fit",
    "gamma_gamma_log_likelihood",
    "holdout_table",
    "predict_customers",
    "probability_alive",
    "rfm_scores",
    "split_calibration_holdout",
    "summarize_transactions",
]
