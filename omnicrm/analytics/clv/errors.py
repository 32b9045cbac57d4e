"""Errors of the customer-prediction models.

Both subclass :class:`omnicrm.core.errors.ApplicationError`, so the API, console and CLI map
them like any other business refusal; the message says what was wrong with the data.
"""

from __future__ import annotations

from omnicrm.core.errors import ApplicationError, ValidationFailed


class TransactionLogInvalid(ValidationFailed):
    """The transaction log itself is unusable (empty, mismatched lengths, negative amounts...)."""

    code = "transaction_log_invalid"


class ModelNotFittable(ApplicationError):
    """The data is valid but cannot support the model (too few repeat buyers, nobody repeats,
    no positive spend, an estimate at the edge of the parameter space...).

    Callers that want predictions anyway use :func:`omnicrm.analytics.clv.predict_customers`,
    which catches this and falls back to the plain RFM rules, flagging the result.
    """

    status = 422
    code = "model_not_fittable"
