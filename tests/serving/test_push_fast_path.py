"""The push-list hot path: JSON bytes in the documented shape, and the vectorised helpers equal
to the straightforward numpy they replace (np.unique, np.partition)."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest

from configs import columns as C
from configs.settings import Settings
from serving import engine, handlers
from serving.interest_csr import InterestSource
from serving.schemas import PushListRequest, PushListResponse
from serving.snapshot import Snapshot, SnapshotInputs, build_snapshot
from serving.topk import top_k_rows
from tests.serving.synthetic import AS_OF, feature_tables


def _snap(**kwargs: int) -> Snapshot:
    tables = feature_tables(**kwargs)
    ms = tables.pop("memberships")
    return build_snapshot(
        tables, SnapshotInputs(push_cap_window_days=7, memberships=ms, as_of=AS_OF)
    )


def test_push_lists_bytes_have_exactly_the_response_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    snap = _snap(n_users=200, n_cats=6, n_groups=4, zombie_groups=1)
    monkeypatch.setattr(handlers, "_today", lambda: AS_OF + timedelta(days=30))  # stale
    req = PushListRequest(group_ids=["g0", "g3", "g1", "nope"], top_k=5, members_per_product=7)
    status, body = handlers.push_lists(snap, req, Settings())
    assert status == 200 and isinstance(body, bytes)
    raw = json.loads(body)
    # the pydantic model keeps the documented fields only (and fills defaults): any renamed,
    # missing or extra field in the engine's dataclasses makes the two differ
    assert json.loads(PushListResponse.model_validate_json(body).model_dump_json()) == raw
    assert raw["unknown_group_ids"] == ["nope"] and raw["as_of"] == AS_OF.isoformat()
    stages = {g["group_id"]: g for g in raw["groups"]}
    assert stages["g3"]["stage"] == "zombie" and not stages["g3"]["items"]
    live = [g for g in raw["groups"] if g["stage"] != "zombie"]
    assert any(g["items"] for g in live)
    for g in raw["groups"]:
        assert "behind" in g["warnings"][0]  # the staleness warning comes first
        for it in g["items"]:
            assert 0 < len(it["members"]) <= 7 and all(m["reasons"] for m in it["members"])


def test_unique_small_equals_np_unique() -> None:
    rng = np.random.default_rng(0)
    for size in (1, 7, 300):
        keys = rng.integers(0, size, rng.integers(1, 50))
        uniq, inverse = engine._unique_small(keys, size)
        ref_uniq, ref_inverse = np.unique(keys, return_inverse=True)
        np.testing.assert_array_equal(uniq, ref_uniq)
        np.testing.assert_array_equal(inverse, ref_inverse)


def _reference_expected(req: engine._Request, k: int) -> np.ndarray:
    """The partition-based computation the sort replaced."""
    scores = req.base[req.row_cat] + req.extra[req.row_cat] * req.fit[req.row_band]
    n = scores.shape[1]
    top = np.partition(scores, n - k, axis=1)[:, n - k :] if k < n else scores
    top = -np.sort(-top, axis=1)
    csum = np.cumsum(top, axis=1, dtype=np.float64)[req.cand_combo]
    positive = (top > engine.EPS).sum(axis=1)[req.cand_combo]
    n_take = np.minimum((csum <= req.stock[:, None] + engine.EPS).sum(axis=1), positive)
    rows = np.arange(len(req.cand))
    return np.where(n_take > 0, csum[rows, np.maximum(n_take - 1, 0)], 0.0)


@pytest.mark.parametrize("k", [1, 5, 40])
def test_expected_buyers_equal_the_partition_reference(k: int) -> None:
    rng = np.random.default_rng(k)
    n_combos, n_members, n_cand = 12, 40, 30
    scores = rng.random((n_combos, n_members)).astype(np.float32)
    scores[rng.random(scores.shape) < 0.6] = 0  # mostly zeros, as in real groups
    scores[0] = 0.25  # ties
    req = engine._Request(
        members=np.arange(n_members),
        cap_left=np.ones(n_members, dtype=np.int32),
        cand=np.arange(n_cand),
        stock=np.where(rng.random(n_cand) < 0.5, np.inf, rng.integers(1, 5, n_cand)),
        cats=np.zeros(n_cand, dtype=np.int32),
        cand_u=np.zeros(n_cand, dtype=np.int64),
        cand_combo=rng.integers(0, n_combos, n_cand),
        base=scores,  # rows scored by `base` alone: any score matrix
        extra=np.zeros_like(scores),
        fit=np.ones((1, n_members), dtype=np.float32),
        row_cat=np.arange(n_combos),
        row_band=np.zeros(n_combos, dtype=np.int64),
        entry=np.full((1, n_members), -1),
    )
    np.testing.assert_array_equal(engine._expected(req, k), _reference_expected(req, k))


def test_scoring_columns_are_views_of_one_packed_array() -> None:
    csr = _snap().interest
    assert csr.scoring.shape == (len(csr.indices), 3)
    for column, view in enumerate((csr.model, csr.rel, csr.due)):
        assert np.shares_memory(view, csr.scoring)
        np.testing.assert_array_equal(view, csr.scoring[:, column])


@pytest.mark.parametrize(
    ("k", "members", "zeros"),
    [(1, 50, 0.6), (5, 300, 0.6), (20, 500, 0.9), (20, 30, 0.2), (10, 200, 0.0)],
)
def test_bounded_top_k_equals_sorting_whole_rows(k: int, members: int, zeros: float) -> None:
    rng = np.random.default_rng(k + members)
    n_groups, bands = 7, 5
    base = rng.random((n_groups, members), dtype=np.float32) * 0.6
    extra = rng.random((n_groups, members), dtype=np.float32) * 0.15
    base[rng.random(base.shape) < zeros] = 0
    extra[base == 0] = 0
    base[0, : members // 2] = 0.3  # ties
    fit = rng.random((bands, members), dtype=np.float32)
    fit[0] = 1.0
    every = (base[:, None, :] + extra[:, None, :] * fit[None, :, :]).reshape(-1, members)
    rows = np.sort(rng.choice(len(every), 20, replace=False))
    got = top_k_rows(base, extra, fit, rows // bands, rows % bands, k)
    want = np.sort(every[rows], axis=1)[:, ::-1][:, :k]
    np.testing.assert_array_equal(got, want)


def test_interest_lists_as_arrow_build_the_same_snapshot() -> None:
    """The lean load path (user_interest's list columns as Arrow) equals exploding the pandas
    frame, including users and categories the snapshot does not know and null lists."""
    import pyarrow as pa

    tables = feature_tables(n_users=80, n_cats=7)
    ms = tables.pop("memberships")
    ui = tables["user_interest"].copy()
    ui.loc[3, "interest_categories"] = None  # a user without interest lists
    ui.loc[len(ui)] = ui.iloc[0].copy()
    ui.loc[len(ui) - 1, C.USER_ID] = "stranger"  # not in user_activity
    ui.at[5, "interest_categories"] = np.array(["c0", "nope", "c2", "c3"])  # unknown category
    ui.loc[3, ["interest_scores", "last_days", "counts_30d"]] = None
    tables["user_interest"] = ui
    kwargs = {"push_cap_window_days": 7, "memberships": ms, "as_of": AS_OF}
    want = build_snapshot(tables, SnapshotInputs(**kwargs))
    lists = pa.Table.from_pandas(ui, preserve_index=False)
    got = build_snapshot(
        {**tables, "user_interest": ui.iloc[:0]},
        SnapshotInputs(interest=InterestSource(lists=lists), **kwargs),
    )
    for name in ("indptr", "indices", "scoring", "last_days", "counts_30d", "live"):
        np.testing.assert_array_equal(getattr(got.interest, name), getattr(want.interest, name))
    assert len(got.interest.indices) == len(want.interest.indices) > 0


def test_tags_are_shared_per_distinct_combination() -> None:
    tables = feature_tables(n_users=10)
    ms = tables.pop("memberships")
    tables["user_activity"].loc[4, "tags"] = None
    snap = build_snapshot(
        tables,
        SnapshotInputs(
            push_cap_window_days=7, memberships=ms, tag_names={"T01": "deal seeker"}, as_of=AS_OF
        ),
    )
    assert snap.tags_of(1) == ["deal seeker", "T02"] and snap.tags_of(0) == ["T03"]
    assert snap.tags_of(4) == [] and len(snap.tag_sets) == 3
