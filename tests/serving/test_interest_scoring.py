"""The lean champion path (Arrow user_interest, pairs built and scored per chunk of users)
gives exactly what building one pandas pair frame of every user gave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pytest import MonkeyPatch

from configs import columns as C
from modelinput.pairs import ARRAYS, PAIR_FEATURES, build_pairs, explode_interest
from serving.interest_csr import InterestSource
from serving.interest_scoring import score_interest
from serving.models import Champion
from serving.snapshot import SnapshotInputs, build_snapshot
from tests.serving.synthetic import AS_OF, feature_tables


class _EveryFeature:
    """A stand-in model whose score moves with every pair feature and identity_type."""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        x = np.nan_to_num(frame[list(PAIR_FEATURES)].to_numpy(np.float64), nan=-0.5)
        weights = np.linspace(0.1, 1.0, x.shape[1])
        ident = frame["identity_type"].astype(str).str.len().to_numpy(np.float64)
        p = 1 / (1 + np.exp(-((x * weights).sum(axis=1) + ident) / 50))
        return np.column_stack([1 - p, p])


def _tables() -> dict[str, pd.DataFrame]:
    """Synthetic tables with the awkward cases: a user without lists, a user the snapshot
    does not know, a category it does not know, identity types on some users."""
    tables = feature_tables(n_users=70, n_cats=8, interest_k=5)
    ui = tables["user_interest"].copy()
    ui.loc[3, list(ARRAYS)] = None
    ui.loc[len(ui)] = ui.iloc[0].copy()
    ui.loc[len(ui) - 1, C.USER_ID] = "stranger"
    ui.at[5, "interest_categories"] = np.array(["c0", "nope", "c2", "c3", "c4"])
    tables["user_interest"] = ui
    ua = tables["user_activity"]
    ua["identity_type"] = ["mom" if i % 3 else None for i in range(len(ua))]
    ua["mean_gap_days"] = np.linspace(1, 30, len(ua))
    return tables


def _arrow(ui: pd.DataFrame) -> pa.Table:
    """As the offline table stores it: float32 lists (pandas then sees float32 arrays)."""
    table = pa.Table.from_pandas(ui, preserve_index=False)
    floats = pa.list_(pa.float32())
    for name in ARRAYS:
        if name != "interest_categories":
            i = table.schema.get_field_index(name)
            table = table.set_column(i, name, table.column(name).cast(floats))
    return table


def test_pairs_from_arrow_chunks_equal_the_pandas_frame() -> None:
    tables = _tables()
    lists, cs, ua = (
        _arrow(tables["user_interest"]),
        tables["category_stats"],
        tables["user_activity"],
    )
    ui = lists.to_pandas()
    want = build_pairs(ui, cs, ua, n_popular=3)
    chunks = [build_pairs(lists.slice(s, 16), cs, ua, n_popular=3) for s in range(0, len(ui), 16)]
    got = pd.concat(chunks, ignore_index=True)
    keys = [C.USER_ID, C.CATEGORY_ID]
    pd.testing.assert_frame_equal(
        got.sort_values(keys, ignore_index=True), want.sort_values(keys, ignore_index=True)
    )
    pd.testing.assert_frame_equal(explode_interest(lists), explode_interest(ui))


def test_chunked_champion_scores_build_the_same_snapshot() -> None:
    tables = _tables()
    ms = tables.pop("memberships")
    champion = Champion("interest", "grouppush_interest", "3", None, _EveryFeature())
    lists, cs, ua = (
        _arrow(tables["user_interest"]),
        tables["category_stats"],
        tables["user_activity"],
    )
    ui = tables["user_interest"] = lists.to_pandas()
    kwargs = {"push_cap_window_days": 7, "memberships": ms, "as_of": AS_OF}
    pairs = build_pairs(ui, cs, ua, n_popular=3)  # the old path: one pandas frame
    source = InterestSource(pairs=pairs, prob=champion.predict(pairs))
    want = build_snapshot(tables, SnapshotInputs(interest=source, **kwargs))
    scored = score_interest(champion, lists, cs, ua, n_popular=3, chunk_users=7)
    assert scored is not None
    source = InterestSource(long=scored)
    got = build_snapshot(
        {**tables, "user_interest": ui.iloc[:0]}, SnapshotInputs(interest=source, **kwargs)
    )
    names = ("indptr", "indices", "scoring", "last_days", "counts_30d", "live")
    for name in names:
        np.testing.assert_array_equal(getattr(got.interest, name), getattr(want.interest, name))
    assert len(got.interest.indices) > len(ui) * 5  # popular candidates were added
    model = got.interest.model
    assert np.unique(model).size > len(model) // 2  # real scores, not the fallback shares


def test_a_model_that_cannot_score_the_pairs_gives_none() -> None:
    class _Refuses:
        def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
            raise KeyError("feature_the_snapshot_lacks")

    tables = _tables()
    champion = Champion("interest", "grouppush_interest", "4", None, _Refuses())
    ui, cs, ua = tables["user_interest"], tables["category_stats"], tables["user_activity"]
    assert score_interest(champion, _arrow(ui), cs, ua, n_popular=3) is None


def test_index_joins_equal_the_pandas_merges() -> None:
    """build_pairs' lookups give what the hash joins they replace gave (missing keys too)."""
    from modelinput.pairs import _left_join, _missing_popular

    tables = _tables()
    long = explode_interest(tables["user_interest"])
    users = pd.unique(long[C.USER_ID])
    popular = pd.Series(["c1", "c4", "c7", "nope"], name=C.CATEGORY_ID)
    keys = [C.USER_ID, C.CATEGORY_ID]
    cross = pd.DataFrame({C.USER_ID: users}).merge(popular.to_frame(), how="cross")
    cross = cross.merge(long[keys], on=keys, how="left", indicator=True)
    want = cross.loc[cross["_merge"] == "left_only", keys].reset_index(drop=True)
    got = _missing_popular(long, users, popular)
    pd.testing.assert_frame_equal(got, want)
    assert 0 < len(got) < len(users) * len(popular)

    ua = tables["user_activity"].drop(columns=[C.EVENT_TIMESTAMP])
    right = ua[[C.USER_ID, "recency_days", "order_days_30d", "identity_type"]]
    want = long.merge(right, on=C.USER_ID, how="left")
    assert want["order_days_30d"].isna().any()  # the stranger: ints become floats
    pd.testing.assert_frame_equal(_left_join(long.copy(), right, C.USER_ID), want)


def test_second_load_reads_the_score_cache(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    """A load with the same champion and feature files reuses the saved pair scores (same
    snapshot, no scoring); a new champion version scores again and replaces the file."""
    import serving.interest_scoring as scoring
    from configs.settings import load_settings
    from serving.loader import load_snapshot
    from serving.score_cache import FOLDER
    from tests.serving.conftest import register_champion, write_workspace

    ws = write_workspace(tmp_path / "ws", n_users=120, n_cats=6)
    register_champion(ws, "interest")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = load_settings()
    first = load_snapshot(ws, settings)
    assert first.model_versions["interest"] == "1"
    files = list((ws.root / FOLDER).glob("interest-*"))
    assert len(files) == 1 and list(files[0].glob("part-*.npz"))

    def no_scoring(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached scores should have been used")

    with monkeypatch.context() as mp:
        mp.setattr(scoring, "iter_scores", no_scoring)
        again = load_snapshot(ws, settings)
    for name in ("indptr", "indices", "scoring", "last_days", "counts_30d", "live"):
        np.testing.assert_array_equal(getattr(again.interest, name), getattr(first.interest, name))
    assert again.model_versions == first.model_versions

    register_champion(ws, "interest", seed=3)
    moved = load_snapshot(ws, settings)
    assert moved.model_versions["interest"] == "2"
    assert not np.array_equal(moved.interest.model, first.interest.model)
    assert [p.name for p in (ws.root / FOLDER).glob("interest-*")] != [f.name for f in files]
