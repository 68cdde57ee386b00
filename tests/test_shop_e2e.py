"""A real shop's export through the same commands, no code change (issue: real shop logs).

Two files with the shop's own column names, opaque ids (spaces, leading zeros), an extra column,
zero-quantity lines and no groups table: ingest -> features -> train interest -> export interest.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmarks.make_shop_log import SHOP_MAPS, make_shop_export
from configs.settings import load_settings
from configs.workspace import resolve_workspace


@pytest.fixture(scope="module")
def shop_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from features.simulator.simulate import simulate

    tmp = tmp_path_factory.mktemp("shop_src")
    settings = load_settings("tiny", {"simulate": {"n_users": 500, "seed": 11}})
    simulate(settings, tmp / "data", tmp / "truth", show_progress=False)
    orders = pd.read_parquet(tmp / "data" / "orders.parquet")
    products = pd.read_parquet(tmp / "data" / "products.parquet")
    out = tmp / "export"
    make_shop_export(orders, products, out, seed=11, bad_share=0.01)
    return out


@pytest.mark.integration
def test_shop_export_end_to_end(shop_export: Path, tmp_path: Path) -> None:
    from features.compute.build import build_features
    from features.ingest.pipeline import ingest
    from training.export import export_interest
    from training.train import train

    raw_orders = pd.read_csv(shop_export / "orders.csv", dtype=str)
    raw_products = pd.read_csv(shop_export / "products.csv", dtype=str)
    ws = resolve_workspace(tmp_path / "ws")
    settings = load_settings("tiny", {"training": {"horizon_days": 28}})
    report = ingest(
        shop_export, ws.data, ws.quarantine, settings.ingest, maps=SHOP_MAPS, show_progress=False
    )

    # zero-quantity lines sit in quarantine with their reason; nothing else is lost
    quarantine = pd.read_parquet(ws.quarantine / "orders.parquet")
    n_zero = int((raw_orders["units"].astype(float) == 0).sum())
    assert n_zero > 0
    assert (quarantine["reason"] == "quantity <= 0").sum() == n_zero
    assert report.rows_in["orders"] == report.rows_ok["orders"] + report.rows_rejected["orders"]
    assert "coupon_disc" in report.unknown_columns["orders"]
    assert any("group" in line for line in report.derived)  # groups derived from store_id

    orders = pd.read_parquet(ws.data / "orders.parquet")
    products = pd.read_parquet(ws.data / "products.parquet")
    assert set(orders["user_id"]) <= set(raw_orders["household_key"])
    assert orders["user_id"].str.contains(" ").all()  # "HH 00042" kept exactly
    assert products["product_id"].str.startswith("0").any()  # leading zeros kept
    assert set(products["category_id"]) == set(raw_products["commodity"])
    assert (ws.data / "groups.parquet").exists() and (ws.data / "memberships.parquet").exists()

    build_features(settings, ws, None, show_progress=False)
    result = train(settings, ws, "interest", None, show_progress=False)
    summary = result["interest"]
    assert summary["reason"]  # promoted or not, the run says why
    # promoted or not, a champion serves: the learned model or the best scorer on the holdout
    from training.registry import CHAMPION, MODEL_NAMES, configure

    alias = configure(ws).get_model_version_by_alias(MODEL_NAMES["interest"], CHAMPION)
    assert str(alias.version) == summary["champion"]["version"]
    out = tmp_path / "interest.csv"
    top_k = 5
    n = export_interest(settings, ws, None, top_k, out)
    exported = pd.read_csv(out, dtype={"user_id": str, "category_id": str})
    assert n == len(exported) > 0
    assert list(exported.columns[:5]) == [
        "user_id",
        "category_id",
        "rank",
        "score",
        "model_version",
    ]
    assert set(exported["category_id"]) <= set(raw_products["commodity"])
    assert set(exported["user_id"]) <= set(raw_orders["household_key"])
    assert not exported.duplicated(["user_id", "rank"]).any()
    for _, ranks in exported.groupby("user_id")["rank"]:
        assert sorted(ranks) == list(range(1, len(ranks) + 1))  # 1..k without gaps
        assert len(ranks) <= top_k
    buyers = set(orders["user_id"])
    assert buyers <= set(exported["user_id"])  # every user with an order appears
