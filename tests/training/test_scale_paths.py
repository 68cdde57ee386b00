"""The large-preset paths of training: user samples drawn before the fetch, chunked pair
building, per-stage timings. Checked on the synthetic workspace with tiny caps and chunks."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from configs import columns as C
from configs.workspace import Workspace
from features.snapshots import training_snapshot_dates
from features.stages import Stages
from features.store import catalog
from tests.training.conftest import small_settings
from training import interest as interest_mod
from training.datasets import (
    SNAPSHOT,
    category_stats_at,
    entity_frame,
    fetch_snapshots,
    load_orders,
    offline_fetcher,
    split_snapshots,
    utc,
)


def _orders(ws: Workspace, as_of: date) -> pd.DataFrame:
    orders = load_orders(ws)
    return orders[orders[C.ORDERED_AT] < utc(as_of)]


def test_capped_fetch_is_a_seeded_sample_of_each_snapshot(
    synthetic_ws: Workspace, as_of: date
) -> None:
    orders = _orders(synthetic_ws, as_of)
    dates = training_snapshot_dates(as_of, 30, 3, 30)
    caps: dict[date, int | None] = {dates[0]: 50, dates[1]: None, dates[2]: 80}
    fetch = offline_fetcher(synthetic_ws)
    frame = fetch_snapshots(fetch, orders, dates, catalog.INTEREST_SERVICE, caps, seed=7)
    again = fetch_snapshots(fetch, orders, dates, catalog.INTEREST_SERVICE, caps, seed=7)
    other = fetch_snapshots(fetch, orders, dates, catalog.INTEREST_SERVICE, caps, seed=8)
    sizes = frame.groupby(SNAPSHOT).size()
    assert sizes[dates[0]] == 50 and sizes[dates[2]] == 80
    assert sizes[dates[1]] == len(entity_frame(orders, dates[1]))  # None: every user
    pd.testing.assert_frame_equal(frame, again)
    assert set(frame[C.USER_ID]) != set(other[C.USER_ID])
    for day in dates:  # a sample of the users with history at that snapshot, never others
        have = set(entity_frame(orders, day)[C.USER_ID])
        assert set(frame.loc[frame[SNAPSHOT] == day, C.USER_ID]) <= have


def test_chunked_pairs_equal_one_frame(
    synthetic_ws: Workspace, as_of: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders = _orders(synthetic_ws, as_of)
    day = training_snapshot_dates(as_of, 30, 3, 30)[-1]
    frame = fetch_snapshots(offline_fetcher(synthetic_ws), orders, [day], catalog.INTEREST_SERVICE)
    stats = category_stats_at(synthetic_ws, day)
    cfg = small_settings().training
    whole = interest_mod.snapshot_pairs(frame, stats, orders, day, cfg)
    monkeypatch.setattr(interest_mod, "USER_CHUNK", 37)
    chunked = interest_mod.snapshot_pairs(frame, stats, orders, day, cfg)
    assert len(chunked) == len(whole)
    keys = [C.USER_ID, C.CATEGORY_ID]  # chunks order the rows by chunk: same rows, same values
    pd.testing.assert_frame_equal(
        whole.sort_values(keys, ignore_index=True), chunked.sort_values(keys, ignore_index=True)
    )


def test_interest_holdout_sample_and_stages(synthetic_ws: Workspace, as_of: date) -> None:
    """The held-out snapshot is capped by interest_eval_max_users; every stage is timed."""
    orders = _orders(synthetic_ws, as_of)
    dates = training_snapshot_dates(as_of, 30, 3, 30)
    split = split_snapshots(dates, 30)
    cfg = small_settings(interest_max_users=120, interest_eval_max_users=150).training
    caps = interest_mod.snapshot_caps(split, cfg)
    assert caps == {split.train[0]: 120, split.valid: 120, split.test: 150}
    frame = fetch_snapshots(
        offline_fetcher(synthetic_ws), orders, dates, catalog.INTEREST_SERVICE, caps, cfg.seed
    )
    stats = {d: category_stats_at(synthetic_ws, d) for d in dates}
    stages = Stages()
    result = interest_mod.train_interest(frame, stats, orders, split, cfg, stages)
    assert result.data["n_test_users"] == 150
    assert result.metrics["n_users"] <= 150  # only sampled users who buy in the window
    assert {"interest.pairs", "interest.fit", "interest.holdout", "interest.baselines"} <= set(
        stages.seconds
    )
    assert all(v > 0 for v in stages.peak_rss_mib.values())


def test_train_reports_every_stage(trained) -> None:
    """`train` times each stage end to end, so the benchmark can say where the time goes."""
    _, _, result = trained
    seconds, peaks = result["stages"]["seconds"], result["stages"]["peak_rss_mib"]
    for kind in ("repurchase", "interest"):
        for stage in ("fetch", "fit", "baselines", "holdout", "plots", "mlflow_log"):
            assert f"{kind}.{stage}" in seconds
        assert f"{kind}.log_model_register" in seconds and f"{kind}.promotion" in seconds
    assert {"setup", "ensure_snapshots", "load_orders", "feature_store"} <= set(seconds)
    assert set(seconds) == set(peaks)
    assert all(v >= 0 for v in seconds.values())
