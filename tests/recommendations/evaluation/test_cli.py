"""End to end: a small CSV shop through the CLI (C1's management command and cli.run)."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from omnicrm.core.errors import ValidationFailed
from omnicrm.recommendations.evaluation import cli
from omnicrm.recommendations.evaluation.models import ALS, BPR, implicit_missing


def _write_clustered_shop(path: Path) -> None:
    """Two tastes: customers 0-29 buy coffee items 0-9, customers 30-59 tea items 10-19.

    Each customer buys 4 items of their taste on days 1-4 and one more on day 10, so the
    test (the last 20% of time) holds exactly the day-10 purchases. The tea items are a bit
    more popular overall (more tea buyers), so popularity serves tea to coffee buyers.
    """
    rng = np.random.default_rng(1)
    lines = ["customer,item,timestamp,group"]
    for c in range(70):
        base = 0 if c < 30 else 10
        items = rng.permutation(10)[:5] + base
        for day, item in zip((1, 2, 3, 4, 10), items, strict=True):
            lines.append(f"c{c},sku{item},{day * 86400 + c},{'VN' if c < 30 else 'CN'}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture()
def shop(tmp_path: Path) -> Path:
    path = tmp_path / "shop.csv"
    _write_clustered_shop(path)
    return path


def test_evaluate_through_the_management_command(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "result.json"
    stdout = io.StringIO()
    call_command(
        "recommendations",
        "evaluate",
        "--dataset",
        f"csv:{shop}",
        "--models",
        "popularity,itemknn,ease,popular_in_group",
        "--json",
        str(out),
        stdout=stdout,
    )
    text = stdout.getvalue()
    assert "## shop — time split" in text
    assert "| ease |" in text
    result = json.loads(out.read_text(encoding="utf-8"))["results"][0]
    assert result["dataset"]["interactions"] == 350
    assert result["split"]["returning_users"] == 70
    assert result["split"]["new_users"] == 0
    assert result["split"]["test_interactions"] == 70
    metrics = {name: res["metrics"]["returning"] for name, res in result["models"].items()}
    # Every customer's next item is one of the 5 unseen items of their taste: the item-item
    # models put those 5 on top, so each list of 10 holds exactly one relevant item.
    for name in ("itemknn", "ease", "popular_in_group"):
        assert metrics[name]["hit_rate@10"] == 1.0
        assert metrics[name]["precision@10"] == pytest.approx(0.1)
    assert metrics["popularity"]["hit_rate@10"] < 1.0
    assert metrics["ease"]["ndcg@10"] > metrics["popularity"]["ndcg@10"]
    assert (
        result["models"]["ease"]["params"]["l2"]
        in result["models"]["ease"]["params"]["l2_candidates"]
    )


def test_run_with_baselines_and_cold_start_lists(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two configurations each instead of the full grids: the selection code path is the same.
    monkeypatch.setattr(ALS, "grid", ALS.grid[:2])
    monkeypatch.setattr(BPR, "grid", BPR.grid[:2])
    stdout = io.StringIO()
    cli.run({"dataset": f"csv:{shop}", "split": "both", "k": 5}, stdout)
    text = stdout.getvalue()
    assert "## shop — time split" in text
    assert "## shop — random split" in text
    assert "precision@5" in text
    assert "| ease_recency |" in text
    assert "content_last_item skipped: the dataset has no item texts" in text
    if implicit_missing() is None:
        assert "| als |" in text and "| bpr |" in text
    else:
        assert "als skipped" in text


def test_bad_options_are_named(shop: Path) -> None:
    with pytest.raises(ValidationFailed) as exc:
        cli.run({"dataset": [f"csv:{shop}"], "models": "ease,magic"}, io.StringIO())
    assert exc.value.field == "models"
    assert "magic" in exc.value.message
    with pytest.raises(ValidationFailed) as exc:
        cli.run({"dataset": [f"csv:{shop}"], "k": 500}, io.StringIO())
    assert exc.value.field == "k"
    with pytest.raises(ValidationFailed) as exc:
        cli.run({"dataset": [f"csv:{shop}"], "personal_k": -3}, io.StringIO())
    assert exc.value.field == "personal_k"
    with pytest.raises(CommandError, match="Unknown dataset"):
        call_command("recommendations", "evaluate", "--dataset", "nope", stdout=io.StringIO())


def test_personal_k_bounds_the_item_item_weights(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "k.json"
    cli.run(
        {"dataset": f"csv:{shop}", "models": "itemknn,ease,ease_full", "personal_k": 2,
         "json": str(out)},
        io.StringIO(),
    )  # fmt: skip
    models = json.loads(out.read_text(encoding="utf-8"))["results"][0]["models"]
    assert models["itemknn"]["params"]["k"] == 2
    assert models["ease"]["params"]["k"] == 2
    assert models["ease_full"]["params"]["k"] == 20  # every item of the catalog
