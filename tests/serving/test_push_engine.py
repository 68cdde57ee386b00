"""The engine with push-model entries: a warm member (bought the exact product, due) outranks a
member with only category interest; the rules still apply after the ranking; reasons name the
signals."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from configs.settings import ServingSettings
from serving.engine import push_list
from serving.push_scores import build_push_arrays, with_push
from serving.snapshot import Snapshot, SnapshotInputs, build_snapshot
from tests.serving.synthetic import feature_tables

COLD_RATE = 0.05


def _snapshot() -> Snapshot:
    tables = feature_tables(n_users=60, n_cats=6, products_per_cat=4, n_groups=3, zombie_groups=0)
    members = tables.pop("memberships")
    return build_snapshot(tables, SnapshotInputs(push_cap_window_days=7, memberships=members))


def _with_push(
    snap: Snapshot, user: str, product: str, prob: float, cold_rate: float = COLD_RATE
) -> Snapshot:
    scored = pd.DataFrame(
        {
            "user_id": [user],
            "product_id": [product],
            "prob": [prob],
            "sub_product_id": [None],
            "p_days": [3.0],
            "p_last_days": [40.0],
            "p_gap_days": [35.0],
            "g_buyers": [12.0],
            "g_size": [80.0],
        }
    )
    arrays = build_push_arrays(scored, snap.user_index, snap.prod_index, cold_rate)
    return with_push(snap, arrays)


def _first_and_last(snap: Snapshot, g: int, p: int) -> tuple[str, str]:
    """The best and the worst-ranked member (with a positive score) for product p."""
    res = push_list(
        snap, g, ServingSettings(), top_k=1, members_per_product=500, candidates=np.array([p])
    )
    members = res.items[0].members
    return members[0].user_id, members[-1].user_id


def test_warm_member_outranks_category_interest() -> None:
    snap = _snapshot()
    g, p = 0, 0
    best, worst = _first_and_last(snap, g, p)
    assert best != worst
    warm = _with_push(snap, worst, str(snap.prod_ids[p]), 0.4)
    res = push_list(
        warm, g, ServingSettings(), top_k=1, members_per_product=3, candidates=np.array([p])
    )
    first = res.items[0].members[0]
    assert first.user_id == worst  # the category-level ranking put them last
    assert first.score == 0.4
    assert first.reasons[:2] == [
        "bought this 3 times, last 40 days ago, usually every 35 days",
        "the group's buyers of this product: 12 of 80",
    ]
    assert len(first.reasons) == len(set(first.reasons))
    # cold members now carry the cold rate's scale: a probability of buying this product
    others = res.items[0].members[1:]
    cold = (
        push_list(
            snap, g, ServingSettings(), top_k=1, members_per_product=3, candidates=np.array([p])
        )
        .items[0]
        .members
    )
    assert [m.user_id for m in others] == [m.user_id for m in cold[:2]]
    assert np.allclose(
        [m.score for m in others], [m.score * COLD_RATE for m in cold[:2]], atol=1e-4
    )


def test_a_small_cold_rate_keeps_every_positive_cold_member() -> None:
    """Scaling the category scores by a real log's cold rate (~1e-3) must not push them under
    the "positive score" threshold: the same cold members stay targetable, in the same order."""
    snap = _snapshot()
    g, p = 0, 0
    settings = ServingSettings()
    one = np.array([p])
    plain = push_list(snap, g, settings, top_k=1, members_per_product=500, candidates=one)
    cold = [m.user_id for m in plain.items[0].members]
    assert min(m.score for m in plain.items[0].members) < 0.5  # some weak members
    warm_user = cold[-1]
    warm = _with_push(snap, warm_user, str(snap.prod_ids[p]), 0.4, cold_rate=2e-6)
    res = push_list(warm, g, settings, top_k=1, members_per_product=500, candidates=one)
    got = [m.user_id for m in res.items[0].members]
    assert got == [warm_user, *cold[:-1]]


def test_rules_apply_after_the_push_ranking() -> None:
    snap = _snapshot()
    g, p = 0, 0
    _, worst = _first_and_last(snap, g, p)
    warm = _with_push(snap, worst, str(snap.prod_ids[p]), 0.4)
    u = warm.user_index[worst]
    capped = replace(warm, push_counts=np.where(np.arange(len(warm.user_ids)) == u, 99, 0))
    res = push_list(
        capped, g, ServingSettings(), top_k=1, members_per_product=3, candidates=np.array([p])
    )
    assert worst not in [m.user_id for m in res.items[0].members]  # push cap
    stock = warm.prod_stock.copy()
    stock[p] = 0.3  # below the warm member's 0.4 expected buy: nobody fits
    res = push_list(
        replace(warm, prod_stock=stock),
        g,
        ServingSettings(),
        top_k=1,
        members_per_product=3,
        candidates=np.array([p]),
    )
    assert not res.items


def test_merge_expected_is_the_top_k_of_warm_and_cold() -> None:
    from serving.push_merge import Warm, merge_expected

    rng = np.random.default_rng(0)
    n_cand, k = 6, 3
    top = -np.sort(-rng.random((4, k)).astype(np.float32), axis=1)  # score rows, descending
    combo = np.array([0, 1, 2, 3, 0, 1])
    counts = np.array([2, 0, 5, 1, 0, 3])
    cand = np.repeat(np.arange(n_cand), counts)
    prob = rng.random(len(cand)).astype(np.float32)
    order = np.lexsort((-prob, cand))
    ptr = np.concatenate([[0], np.cumsum(counts)])
    warm = Warm(ptr, cand[order], np.arange(len(cand)), prob[order], np.arange(len(cand)), 1.0)
    out = np.full(n_cand, -1.0)
    stock = np.full(n_cand, np.inf)
    stock[5] = 0.5
    merge_expected(out, warm, top, combo, stock, k)
    for c in range(n_cand):
        if counts[c] == 0:
            assert out[c] == -1.0  # left to the cold path
            continue
        both = np.concatenate([prob[cand == c], top[combo[c]]])
        expect = min(np.sort(both)[::-1][:k].sum(), stock[c])
        assert out[c] == pytest.approx(expect, rel=1e-5)


def test_warm_member_who_just_bought_a_slow_cycle_product_is_not_pushed() -> None:
    snap = _snapshot()
    g = 0
    p = int(snap.prod_index["p4"])  # category c1: 21-day cycle, not high-frequency
    assert not snap.cat_high_freq[snap.prod_cat[p]]
    _, worst = _first_and_last(snap, g, p)
    warm = _with_push(snap, worst, "p4", 0.4)  # last bought 40 days ago: outside the cycle
    first = (
        push_list(
            warm, g, ServingSettings(), top_k=1, members_per_product=3, candidates=np.array([p])
        )
        .items[0]
        .members[0]
    )
    assert first.user_id == worst
    info = warm.push_info.copy()
    info[:, 1] = 5.0  # bought it 5 days ago: inside the 21-day cycle
    res = push_list(
        replace(warm, push_info=info),
        g,
        ServingSettings(),
        top_k=1,
        members_per_product=3,
        candidates=np.array([p]),
    )
    assert worst not in [m.user_id for m in res.items[0].members]


def test_cold_members_rank_by_the_push_models_category_scale() -> None:
    """With the cold CSR (serving.push_scores.category_scores) the cold members rank by their
    category purchases, on the scale the cold rate was fitted on: the member the interest
    rows put last comes first among the cold, and a warm probability still beats them when
    it is higher than cold_rate x their score."""
    snap = _snapshot()
    g, p = 0, 0
    best, worst = _first_and_last(snap, g, p)
    warm = _with_push(snap, best, str(snap.prod_ids[p]), 0.04)
    n = len(snap.user_ids)
    u, c = int(snap.user_index[worst]), int(snap.prod_cat[p])
    indptr = np.zeros(n + 1, np.int64)
    indptr[u + 1 :] = 1
    cold = replace(
        warm,
        cold_indptr=indptr,
        cold_indices=np.array([c], np.int32),
        cold_score=np.array([0.6], np.float32),
    )
    res = push_list(
        cold, g, ServingSettings(), top_k=1, members_per_product=3, candidates=np.array([p])
    )
    ranked = [m.user_id for m in res.items[0].members]
    assert ranked[:2] == [best, worst]  # 0.04 > 0.05 x 0.6 = 0.03 > the interest tie-breaks
    assert res.items[0].members[1].score == pytest.approx(COLD_RATE * 0.6, rel=1e-3)
    assert res.items[0].members[2].score < 1e-3 * COLD_RATE * 2
