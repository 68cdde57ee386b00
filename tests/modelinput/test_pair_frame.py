"""The training pairs built through the array path equal build_pairs' frame exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from configs import columns as C
from modelinput.pair_frame import list_column, training_pairs
from modelinput.pairs import build_pairs
from tests.serving.test_interest_scoring import _arrow, _tables


def _rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """One snapshot's INTEREST_SERVICE-like rows (lists + user columns, as the Feast frame
    holds them: float32 arrays, a user without lists, a user without activity, a category
    the stats do not know) and category_stats."""
    tables = _tables()
    lists = _arrow(tables["user_interest"]).to_pandas()
    rows = lists.merge(tables["user_activity"], on=C.USER_ID, how="left")
    return rows, tables["category_stats"]


def test_training_pairs_equal_build_pairs() -> None:
    rows, stats = _rows()
    assert rows["interest_categories"].isna().any()
    want = build_pairs(rows, stats, rows, n_popular=3)
    got = training_pairs(rows, stats, n_popular=3)
    assert got is not None
    pd.testing.assert_frame_equal(got, want)
    assert (~want[C.CATEGORY_ID].isin(stats[C.CATEGORY_ID])).any()  # the unknown category


def test_training_pairs_without_identity_or_popular_candidates() -> None:
    rows, stats = _rows()
    rows = rows.drop(columns=["identity_type"])
    for n_popular in (0, 50):
        want = build_pairs(rows, stats, rows, n_popular=n_popular)
        got = training_pairs(rows, stats, n_popular=n_popular)
        assert got is not None
        pd.testing.assert_frame_equal(got, want)


def test_repeated_users_take_the_general_path() -> None:
    rows, stats = _rows()
    twice = pd.concat([rows, rows.head(2)], ignore_index=True)
    assert training_pairs(twice, stats, n_popular=3) is None


def test_list_column_matches_arrow_conversion() -> None:
    values = pd.Series([np.array([1.5, 2.0], dtype=np.float32), None, np.array([]), [3.0]])
    got = list_column(values, pa.float64())
    want = pa.array([[1.5, 2.0], None, [], [3.0]], type=pa.list_(pa.float64()))
    assert got.equals(want)
    names = list_column(pd.Series([np.array(["a", "b"], dtype=object), None]), pa.string())
    assert names.to_pylist() == [["a", "b"], None]
