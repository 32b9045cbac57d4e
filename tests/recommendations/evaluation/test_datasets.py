"""Dataset readers on small files written by the tests (no real data set needed)."""

import gzip
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from omnicrm.core.errors import ValidationFailed
from omnicrm.recommendations.evaluation.datasets import load_dataset, parse_timestamp


def test_csv_with_optional_columns(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    path.write_text(
        "customer,item,timestamp,rating,group,item_text\n"
        "c1,SKU-1,2024-01-02T00:00:00+07:00,5,VN,Cà phê Arabica\n"
        "c2,SKU-2,1704067200,,SG,Moka pot\n"
        "c1,SKU-2,2024-01-03,,VN,\n",
        encoding="utf-8",
    )
    data = load_dataset(f"csv:{path}")
    assert data.user_ids == ["c1", "c2"]
    assert data.item_ids == ["SKU-1", "SKU-2"]
    assert data.user.tolist() == [0, 1, 0]
    assert data.item.tolist() == [0, 1, 1]
    assert data.ts.tolist() == [
        datetime(2024, 1, 1, 17, tzinfo=UTC).timestamp(),
        1704067200.0,
        datetime(2024, 1, 3, tzinfo=UTC).timestamp(),
    ]
    assert data.rating[0] == 5.0
    assert np.isnan(data.rating[1:]).all()
    assert data.user_group == ["VN", "SG"]
    assert data.item_text == ["Cà phê Arabica", "Moka pot"]


def test_csv_errors_name_the_problem(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    missing.write_text("customer,item\nc1,i1\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as exc:
        load_dataset(f"csv:{missing}")
    assert exc.value.field == "dataset"
    assert "missing column(s) timestamp" in exc.value.message
    bad = tmp_path / "bad.csv"
    bad.write_text("customer,item,timestamp\nc1,i1,yesterday\n", encoding="utf-8")
    with pytest.raises(ValidationFailed, match="line 2"):
        load_dataset(f"csv:{bad}")
    with pytest.raises(ValidationFailed, match="Unknown dataset"):
        load_dataset("parquet:/tmp/x")
    with pytest.raises(ValidationFailed, match="not found"):
        load_dataset(f"csv:{tmp_path / 'nope.csv'}")


def test_ml100k_reader(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "u.data.gz", "wt", encoding="latin-1") as fh:
        fh.write("1\t10\t4\t881250949\n2\t10\t1\t881250950\n1\t20\t5\t881250951\n")
    genres = ["0"] * 19
    genres[5] = "1"  # Comedy
    (tmp_path / "u.item").write_text(
        "10|Toy Story (1995)|01-Jan-1995||http://x|" + "|".join(genres) + "\n", encoding="latin-1"
    )
    data = load_dataset(f"ml-100k:{tmp_path}")
    assert len(data) == 3
    assert data.user_ids == ["1", "2"]
    assert data.item_ids == ["10", "20"]
    assert data.rating.tolist() == [4.0, 1.0, 5.0]
    assert data.item_text == ["Toy Story (1995) Comedy", ""]


def _gz(path: Path, text: str) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(text)


def test_olist_reader_skips_canceled_orders_and_keeps_state(tmp_path: Path) -> None:
    _gz(
        tmp_path / "olist_customers_dataset.csv.gz",
        "customer_id,customer_unique_id,customer_zip_code_prefix,customer_city,customer_state\n"
        "k1,P1,1,x,SP\nk2,P1,1,x,SP\nk3,P2,2,y,RJ\n",
    )
    _gz(
        tmp_path / "olist_orders_dataset.csv.gz",
        "order_id,customer_id,order_status,order_purchase_timestamp\n"
        "o1,k1,delivered,2018-01-01 10:00:00\no2,k2,delivered,2018-02-01 10:00:00\n"
        "o3,k3,canceled,2018-03-01 10:00:00\n",
    )
    _gz(
        tmp_path / "olist_order_items_dataset.csv.gz",
        "order_id,order_item_id,product_id\no1,1,A\no1,2,A\no2,1,B\no3,1,C\n",
    )
    _gz(
        tmp_path / "olist_order_reviews_dataset.csv.gz",
        "review_id,order_id,review_score\nr1,o1,5\n",
    )
    _gz(
        tmp_path / "olist_products_dataset.csv.gz",
        "product_id,product_category_name\nA,cama_mesa_banho\nB,beleza_saude\nC,bebes\n",
    )
    _gz(
        tmp_path / "product_category_name_translation.csv.gz",
        "product_category_name,product_category_name_english\nbeleza_saude,health_beauty\n",
    )
    data = load_dataset(f"olist:{tmp_path}")
    assert data.user_ids == ["P1"]  # P2's only order was canceled
    assert data.item_ids == ["A", "B"]  # two units of A in one order = one interaction
    assert data.user.tolist() == [0, 0]
    assert data.rating[0] == 5.0 and np.isnan(data.rating[1])
    assert data.user_group == ["SP"]
    assert data.item_text == ["cama mesa banho", "health beauty"]


def test_parse_timestamp() -> None:
    assert parse_timestamp("0") == 0.0
    assert parse_timestamp("1970-01-01T01:00:00Z") == 3600.0
    assert parse_timestamp("1970-01-01 01:00:00+01:00") == 0.0
