"""`omnicrm recommendations train`: trains from the database and reports what it did."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from omnicrm.recommendations.models import RecommenderModel, TrainingStatus
from tests.recommendations.coffee_shop import coffee_shop

pytestmark = pytest.mark.django_db


def test_train_reports_the_run_and_writes_its_record(tmp_path):
    coffee_shop()
    out = StringIO()
    target = tmp_path / "run.json"

    call_command(
        "recommendations",
        "train",
        "--algorithm",
        "itemknn",
        "--as-of",
        "2026-06-15T12:00:00Z",
        "--no-progress",
        "--json",
        str(target),
        stdout=out,
    )

    run = RecommenderModel.objects.get()
    assert (run.status, run.algorithm, run.trigger) == (TrainingStatus.SUCCEEDED, "itemknn", "cli")
    text = out.getvalue()
    assert text.startswith(f"Trained {run.public_id} (itemknn) in ")
    assert "6 customers, 7 products, 17 signals." in text
    assert "  together links: 2" in text
    assert "  trending list entries: 2" in text
    assert "Holdout check skipped: too little history: 18 order lines" in text
    record = json.loads(target.read_text())
    assert record["public_id"] == run.public_id
    assert record["data"]["as_of"] == "2026-06-15T12:00:00+00:00"
    assert record["params"]["algorithm"] == "itemknn"


def test_train_shows_progress_on_stderr():
    err = StringIO()
    call_command("recommendations", "train", "--as-of", "2026-06-15", stdout=StringIO(), stderr=err)
    assert "Done 100%" in err.getvalue()


def test_a_bad_date_is_refused_naming_the_option():
    with pytest.raises(CommandError, match="--as-of: 'yesterday' is not an ISO 8601 date"):
        call_command("recommendations", "train", "--as-of", "yesterday", "--no-progress")
    assert not RecommenderModel.objects.exists()
