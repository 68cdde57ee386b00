"""The push-list request path's pure helpers against brute-force references (seeded)."""

from __future__ import annotations

import numpy as np
import pytest

from serving.handlers import _split
from serving.push_merge import (
    PROB_STEPS,
    Warm,
    blocked_mask,
    by_candidate_then_rank,
    pair_entries,
)
from serving.push_scores import push_reason_texts, push_reasons
from serving.suppression import Blocked


def _warm(rng: np.random.Generator, n_cand: int, n_members: int, n: int) -> Warm:
    """N distinct (candidate, member) warm entries grouped by candidate."""
    keys = rng.choice(n_cand * n_members, size=n, replace=False)
    cand, member = np.sort(keys) // n_members, np.sort(keys) % n_members
    ptr = np.zeros(n_cand + 1, np.int64)
    np.cumsum(np.bincount(cand, minlength=n_cand), out=ptr[1:])
    prob = rng.random(n).astype(np.float32)
    entry = rng.permutation(10 * n)[:n].astype(np.int64)
    return Warm(ptr, cand, member, prob, entry, 0.01)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pair_entries_is_the_dict_lookup(seed: int) -> None:
    rng = np.random.default_rng(seed)
    warm = _warm(rng, 40, 30, 300)
    pairs = zip(warm.cand.tolist(), warm.member.tolist(), strict=True)
    table = dict(zip(pairs, warm.entry.tolist(), strict=True))
    cand = rng.integers(0, 40, 200)
    member = rng.integers(0, 35, 200)  # members beyond every warm one too
    got = pair_entries(warm, cand, member)
    want = [table.get((c, m), -1) for c, m in zip(cand.tolist(), member.tolist(), strict=True)]
    assert got.tolist() == want
    assert (got >= 0).any() and (got < 0).any()


def test_pair_entries_without_warm_entries_or_pairs() -> None:
    empty = np.zeros(0, np.int64)
    warm = Warm(np.zeros(4, np.int64), empty, empty, empty.astype(np.float32), empty, 1.0)
    assert pair_entries(warm, np.array([0, 2]), np.array([1, 1])).tolist() == [-1, -1]
    full = _warm(np.random.default_rng(3), 3, 5, 6)
    assert pair_entries(full, empty, empty).tolist() == []


@pytest.mark.parametrize("seed", [0, 1])
def test_blocked_mask_marks_exactly_the_blocked_pairs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_cand, n_members = 25, 20
    cand = np.sort(rng.integers(0, n_cand, 60))
    member = rng.integers(0, n_members, 60)
    ptr = np.zeros(n_cand + 1, np.int64)
    np.cumsum(np.bincount(cand, minlength=n_cand), out=ptr[1:])
    mask = blocked_mask(Blocked(ptr, member), n_members)
    want = np.zeros((n_cand, n_members), bool)
    for c, m in zip(cand.tolist(), member.tolist(), strict=True):
        want[c, m] = True
    assert np.array_equal(mask, want)


@pytest.mark.parametrize("n_cand", [1, 7, 3000, 1 << 40])  # the last: the lexsort fallback
def test_by_candidate_then_rank_is_the_lexsort(n_cand: int) -> None:
    rng = np.random.default_rng(n_cand % 1000)
    n = 5000
    cp = rng.integers(0, min(n_cand, 3000), n)
    rank = rng.integers(0, 50, n)  # many ties: broken by position
    rank[:3] = [0, PROB_STEPS, PROB_STEPS]
    got = by_candidate_then_rank(cp, rank, n_cand)
    assert got.tolist() == np.lexsort((np.arange(n), rank, cp)).tolist()
    assert by_candidate_then_rank(cp[:0], rank[:0], n_cand).tolist() == []


def test_push_reason_texts() -> None:
    nan = float("nan")
    infos = [
        [1.0, 3.0, nan, 4.0, 30.0],  # bought once, no usual gap
        [3.0, 12.4, 7.5, 0.0, 30.0],  # .0f rounds half to even: 8
        [0.0, nan, nan, 2.0, 10.0],  # substitute only
        [0.0, nan, nan, nan, 10.0],  # nothing known but the substitute's absence
    ]
    got = push_reason_texts(infos, [None, "Oat milk", "Oat milk", None])
    assert got == [
        ["bought this once, last 3 days ago", "the group's buyers of this product: 4 of 30"],
        ["bought this 3 times, last 12 days ago, usually every 8 days"],
        ["buys similar product Oat milk", "the group's buyers of this product: 2 of 10"],
        [],
    ]
    one = push_reasons(np.array(infos[1], np.float32), None)
    assert one == got[1]


def test_split_keeps_order_drops_duplicates_and_lists_unknowns() -> None:
    index = {"a": 0, "b": 1, "c": 2}
    assert _split(["c", "a", "c", "b"], index) == ([2, 0, 1], [])
    assert _split(["x", "b", "x", "y", "a"], index) == ([1, 0], ["x", "y"])
    assert _split([], index) == ([], [])
