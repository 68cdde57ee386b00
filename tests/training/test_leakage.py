"""No leakage: features predate the label window, labels come from the window only, and a
model trained on shuffled labels is no better than chance on the holdout."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from configs import columns as C
from configs.workspace import Workspace, resolve_workspace
from features.contract.io import write_parquet_atomic
from features.snapshots import training_snapshot_dates
from features.store import catalog
from tests.training.conftest import small_settings
from training.datasets import (
    SNAPSHOT,
    fetch_snapshots,
    load_orders,
    offline_fetcher,
    repurchase_labels,
    split_snapshots,
    utc,
)
from training.estimator import fit_calibrated, predict
from training.metrics import classification_metrics
from training.repurchase import add_labels, feature_columns


def _frame(ws: Workspace, as_of: date) -> tuple[pd.DataFrame, pd.DataFrame, list[date]]:
    dates = training_snapshot_dates(as_of, 30, 3, 30)
    orders = load_orders(ws)
    orders = orders[orders[C.ORDERED_AT] < utc(as_of)]
    frame = fetch_snapshots(offline_fetcher(ws), orders, dates, catalog.REPURCHASE_SERVICE)
    return add_labels(frame, orders, 30), orders, dates


def test_shuffled_labels_give_chance_auc(synthetic_ws: Workspace, as_of: date) -> None:
    frame, _, dates = _frame(synthetic_ws, as_of)
    split = split_snapshots(dates, 30)
    numeric, categorical = feature_columns(frame)
    cols = [*numeric, *categorical]
    rng = np.random.default_rng(0)
    train = frame[frame[SNAPSHOT].isin(split.train)]
    valid = frame[frame[SNAPSHOT] == split.valid]
    test = frame[frame[SNAPSHOT] == split.test]
    shuffled = (
        (train[cols], rng.permutation(train[C.LABEL].to_numpy())),
        (valid[cols], rng.permutation(valid[C.LABEL].to_numpy())),
        (valid[cols], rng.permutation(valid[C.LABEL].to_numpy())),
    )
    model, _ = fit_calibrated(numeric, categorical, *shuffled, small_settings().training)
    # Labels shuffled everywhere (holdout too): nothing but leakage could beat chance.
    y_test = rng.permutation(test[C.LABEL].to_numpy())
    auc = classification_metrics(y_test, predict(model, test))["auc"]
    assert abs(auc - 0.5) < 0.12
    # ...while the true labels are learnable on the same rows (the test can fail).
    real = (
        (train[cols], train[C.LABEL]),
        (valid[cols], valid[C.LABEL]),
        (valid[cols], valid[C.LABEL]),
    )
    model, _ = fit_calibrated(numeric, categorical, *real, small_settings().training)
    assert classification_metrics(test[C.LABEL].to_numpy(), predict(model, test))["auc"] > 0.7


def test_training_rows_use_only_orders_before_their_snapshot(
    synthetic_ws: Workspace, as_of: date
) -> None:
    frame, orders, _ = _frame(synthetic_ws, as_of)
    for day, rows in frame.groupby(SNAPSHOT):
        assert (rows[C.EVENT_TIMESTAMP] == utc(day)).all()
        before = orders[orders[C.ORDERED_AT] < utc(day)]
        last = before.groupby(C.USER_ID)[C.ORDERED_AT].max().dt.floor("D")
        expected = (utc(day) - rows[C.USER_ID].map(last)).dt.days.to_numpy(dtype=float)
        np.testing.assert_allclose(rows["recency_days"].to_numpy(), expected)
        # Labels: orders in [s, s + 30) only, so a label window never overlaps the features.
        after = orders[(orders[C.ORDERED_AT] >= utc(day))]
        in_window = after[after[C.ORDERED_AT] < utc(day + timedelta(days=30))]
        np.testing.assert_array_equal(
            rows[C.LABEL].to_numpy(), rows[C.USER_ID].isin(in_window[C.USER_ID]).to_numpy()
        )


def test_label_window_is_half_open() -> None:
    day = date(2025, 3, 1)
    orders = pd.DataFrame(
        {
            C.USER_ID: ["before", "start", "last", "end"],
            C.ORDERED_AT: [
                utc(day) - pd.Timedelta(seconds=1),
                utc(day),
                utc(day + timedelta(days=10)) - pd.Timedelta(seconds=1),
                utc(day + timedelta(days=10)),
            ],
        }
    )
    users = pd.Series(["before", "start", "last", "end"])
    assert repurchase_labels(orders, users, day, 10).tolist() == [0, 1, 1, 0]


def test_point_in_time_join_never_reads_a_later_snapshot(tmp_path) -> None:
    ws = resolve_workspace(tmp_path)
    s1, s2 = date(2025, 3, 1), date(2025, 4, 1)
    history = pd.DataFrame(
        {
            C.USER_ID: ["u1", "u1"],
            C.EVENT_TIMESTAMP: [utc(s1), utc(s2)],
            "recency_days": [5.0, -999.0],  # the later snapshot is a sentinel
        }
    )
    write_parquet_atomic(history, ws.offline / "user_activity.parquet")
    entities = pd.DataFrame(
        {
            C.USER_ID: ["u1"] * 3,
            C.EVENT_TIMESTAMP: [utc(s1 - timedelta(days=1)), utc(s1), utc(s1 + timedelta(days=20))],
        }
    )
    got = offline_fetcher(ws)(entities, catalog.REPURCHASE_SERVICE)
    assert np.isnan(got["recency_days"].iloc[0])
    assert got["recency_days"].iloc[1:].tolist() == [5.0, 5.0]


def test_holdout_is_the_latest_snapshot_and_never_trained_on() -> None:
    as_of = date(2025, 12, 31)
    dates = training_snapshot_dates(as_of, 30, 4, 30)
    split = split_snapshots(dates, 30)
    assert split.test == max(dates) == as_of - timedelta(days=30)
    assert split.test not in split.train and split.valid not in split.train
    assert all(d + timedelta(days=30) <= split.valid for d in split.train)
    short = split_snapshots(training_snapshot_dates(as_of, 30, 3, 10), 30)  # spacing < horizon
    assert short.train[-1] + timedelta(days=30) <= short.valid
    assert short.valid + timedelta(days=30) <= short.test
    with pytest.raises(ValueError, match="n_snapshots"):
        split_snapshots(dates[:2], 30)
