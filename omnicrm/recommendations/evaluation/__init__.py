"""Offline evaluation of the recommendation algorithms against baselines (no Django ORM).

``omnicrm recommendations evaluate --dataset KIND:PATH`` loads a dataset (``datasets``),
splits it by time (``split``), fits omnicrm's models and the baselines on the training part
(``models``), ranks the test users' items and scores them with ``algorithms.metrics``
(``runner``). docs/recommendations-evaluation.md explains how to read the results.
"""
