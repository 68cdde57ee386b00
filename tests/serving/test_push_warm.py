"""Warm push pairs on integer keys, a block of members at a time: the numpy substitute
expansion equals the pandas one the training side uses, and the kept entries do not depend
on how the members are cut into blocks and feature frames."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from configs import columns as C
from modelinput import push_pairs as pp
from serving import push_warm
from serving.push_warm import _Subs, score_warm_codes

DAY = date(2025, 6, 1)


def _log(seed: int = 5, n_users: int = 60, n_products: int = 16) -> pd.DataFrame:
    """Seeded orders: each user keeps coming back to a few favourite products of 4
    categories, so substitutes, repeat purchases and group adoption all occur."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(DAY, tz="UTC")
    rows = []
    for u in range(n_users):
        favourites = rng.choice(n_products, size=rng.integers(1, 5), replace=False)
        for _ in range(rng.integers(1, 12)):
            p = int(rng.choice(favourites)) if rng.random() < 0.7 else int(rng.integers(0, 16))
            rows.append((f"u{u:02d}", f"p{p:02d}", t0 - timedelta(days=int(rng.integers(1, 300)))))
    frame = pd.DataFrame(rows, columns=[C.USER_ID, C.PRODUCT_ID, C.ORDERED_AT])
    frame[C.CATEGORY_ID] = "c" + (frame[C.PRODUCT_ID].str[1:].astype(int) // 4).astype(str)
    frame[C.QUANTITY] = 1.0
    frame[C.AMOUNT] = 2.0 + frame[C.PRODUCT_ID].str[1:].astype(int) % 3
    return frame


def _members(n_users: int = 60) -> pd.DataFrame:
    users = [f"u{u:02d}" for u in range(n_users)]
    return pd.DataFrame({C.GROUP_ID: [f"g{u % 3}" for u in range(n_users)], C.USER_ID: users})


def _predict(f: pd.DataFrame) -> np.ndarray:
    # ties on purpose (rounding): the kept entries must not depend on the frame cuts
    return np.round(0.01 + 0.1 * f["p_d56"] + 0.05 * f["sub_score"] + 0.001 * f["g_buyers"], 2)


def test_substitute_scores_equal_the_pandas_expansion() -> None:
    h = pp.push_history(_log(), DAY)
    edges = pp.substitutes(h, np.arange(len(h.products)))
    want = pp.substitute_scores(h, edges).sort_values(["u", "p"], ignore_index=True)
    n_u, n_p = len(h.users), len(h.products)
    subs = _Subs(edges, n_p)
    up = h.up.sort_values(["u", "p"], ignore_index=True)
    keys = up.u.to_numpy() * n_p + up.p.to_numpy()
    cuts = [0, 7, 8, 30, n_u]  # blocks of members, one of them a single member
    parts = []
    for lo, hi in pairwise(cuts):
        a, b = np.searchsorted(up.u.to_numpy(), [lo, hi])
        scores = subs.scores(up.iloc[a:b], lo, hi)
        every = np.arange(lo * n_p, hi * n_p)  # asked for every pair: those with a score come
        parts.append(subs.frame(every, scores, keys[a:b], up["d56"].to_numpy()[a:b]))
    got = pd.concat(parts, ignore_index=True)
    assert len(want) > 50
    same = ["u", "p", "sub_n", "sub_q"]
    pd.testing.assert_frame_equal(got[same], want[same])
    np.testing.assert_allclose(got.sub_score, want.sub_score, rtol=1e-12)
    np.testing.assert_array_equal(got.sub_max, want.sub_max)


@pytest.mark.parametrize("sub_rows,chunk", [(40, 7), (10**9, 10**9)])
def test_kept_entries_do_not_depend_on_the_blocks(
    monkeypatch: pytest.MonkeyPatch, sub_rows: int, chunk: int
) -> None:
    h = pp.push_history(_log(), DAY)
    targets = np.arange(0, len(h.products), 2)

    def run() -> push_warm.WarmCodes:
        return score_warm_codes(h, _members(), _predict, targets, 2, None, 1)

    whole = run()
    monkeypatch.setattr(push_warm, "SUB_ROWS", sub_rows)
    monkeypatch.setattr(push_warm, "CHUNK_PAIRS", chunk)
    cut = run()
    assert len(whole.u) > 100
    for name in ("u", "p", "prob", "info", "sub"):
        np.testing.assert_array_equal(getattr(cut, name), getattr(whole, name))
    # every own target pair is kept, and at most 2 substitute-only entries per member
    own = set(zip(h.up.u, h.up.p, strict=True))
    kept = list(zip(whole.u, whole.p, strict=True))
    tgt = set(targets.tolist())
    assert {(u, p) for u, p in own if p in tgt} <= set(kept)
    via = pd.Series([u for u, p in kept if (u, p) not in own])
    assert via.value_counts().max() <= 2
