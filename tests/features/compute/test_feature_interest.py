"""Decay arithmetic, co-purchase similarity and spreading of category interest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from configs import columns as C
from configs.settings import Settings
from tests.features.feature_data import AS_OF, build_offline, orders_frame, products_frame, rows_at


def _interest(out: dict[str, pd.DataFrame], user: str) -> pd.DataFrame:
    row = rows_at(out["user_interest"], AS_OF, C.USER_ID).loc[user]
    return pd.DataFrame({k: list(row[k]) for k in row.index}).set_index("interest_categories")


def test_decay_halves_per_half_life(tmp_path: Path, tiny_settings: Settings) -> None:
    settings = tiny_settings.model_copy(
        update={"features": tiny_settings.features.model_copy(update={"half_life_days": 30.0})}
    )
    orders = orders_frame(
        [
            ("u1", "p1", "2025-06-01T00:00", 2, 2.0),  # 30 days before t: weight 1/2
            ("u1", "p1", "2025-05-02T00:00", 1, 1.0),  # 60 days: 1/4
            ("u1", "p2", "2025-06-30T12:00", 4, 4.0),  # half a day: 4 * 2^(-1/60)
        ]
    )
    out = build_offline(
        tmp_path,
        {"orders": orders, "products": products_frame({"p1": "a", "p2": "b"})},
        [AS_OF],
        settings,
    )
    got = _interest(out, "u1")
    assert got.loc["a", "decayed_scores"] == pytest.approx(2 * 0.5 + 0.25, rel=1e-6)
    assert got.loc["b", "decayed_scores"] == pytest.approx(4 * 2 ** (-0.5 / 30), rel=1e-6)
    assert got.loc["a", "last_days"] == 30 and got.loc["b", "last_days"] == 1
    assert got.loc["a", "counts_30d"] == 1 and got.loc["a", "counts_180d"] == 2
    total = got["decayed_scores"].sum()
    assert got.loc["b", "interest_scores"] == pytest.approx(
        got.loc["b", "decayed_scores"] / total, rel=1e-5
    )
    assert list(got.index) == ["b", "a"]  # ordered by interest, best first


def _co_purchase_world() -> dict[str, pd.DataFrame]:
    rows = []
    for i in range(4):  # four users buy milk and cereal together
        rows += [
            (f"pair{i}", "milk1", "2025-06-10", 1, 1.0),
            (f"pair{i}", "cereal1", "2025-06-10", 1, 1.0),
        ]
    rows += [(f"solo{i}", "soap1", "2025-06-11", 1, 1.0) for i in range(3)]
    rows += [("target", "milk1", "2025-06-20", 1, 1.0), ("target", "soap1", "2025-06-20", 1, 1.0)]
    products = products_frame({"milk1": "milk", "cereal1": "cereal", "soap1": "soap"})
    return {"orders": orders_frame(rows), "products": products}


@pytest.mark.parametrize("weight", [0.0, 0.3])
def test_spreading_reaches_a_co_purchased_category(
    tmp_path: Path, tiny_settings: Settings, weight: float
) -> None:
    settings = tiny_settings.model_copy(
        update={"features": tiny_settings.features.model_copy(update={"spread_weight": weight})}
    )
    out = build_offline(tmp_path, _co_purchase_world(), [AS_OF], settings)
    got = _interest(out, "target")
    assert got["interest_scores"].sum() == pytest.approx(1.0, rel=1e-5)
    if weight == 0:
        assert "cereal" not in got.index
        return
    assert got.loc["cereal", "interest_scores"] > 0  # never bought, reached through milk
    assert got.loc["cereal", "decayed_scores"] == 0 and got.loc["cereal", "last_days"] == -1
    assert got.loc["milk", "interest_scores"] > got.loc["cereal", "interest_scores"]
    sim = pd.read_parquet(tmp_path / "features" / "offline" / "category_similarity.parquet")
    pairs = set(zip(sim[C.CATEGORY_ID], sim["neighbor_id"], strict=True))
    assert ("milk", "cereal") in pairs and ("milk", "soap") not in pairs  # 1 co-buyer < 2


def test_interest_top_n_caps_spread_only_categories(
    tmp_path: Path, tiny_settings: Settings
) -> None:
    settings = tiny_settings.model_copy(
        update={
            "features": tiny_settings.features.model_copy(
                update={"interest_top_n": 1, "similarity_min_users": 1}
            )
        }
    )
    rows = [(f"u{i}", p, "2025-06-10", 1, 1.0) for i in range(3) for p in ("a", "b", "c", "d")]
    rows.append(("target", "a", "2025-06-12", 1, 1.0))
    out = build_offline(tmp_path, {"orders": orders_frame(rows)}, [AS_OF], settings)
    got = _interest(out, "target")
    assert len(got) == 2 and got.index[0] == "a"  # the bought one + 1 spread-only
    assert np.isclose(got["interest_scores"].sum(), 1.0)


def test_top_k_mask_equals_a_three_key_lexsort_with_ties() -> None:
    import scipy.sparse as sp

    from features.compute.compute_interest import _top_k_mask

    rng = np.random.default_rng(3)
    dense = rng.integers(0, 4, size=(300, 12)).astype(float)  # many equal values per row
    dense[rng.random(dense.shape) < 0.3] = 0.0
    m = sp.csr_matrix(dense)
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    order = np.lexsort((m.indices, -m.data, rows))  # the reference: row, value desc, column
    rank = np.arange(len(order)) - m.indptr[rows[order]]
    expected = np.zeros(len(order), bool)
    expected[order[rank < 3]] = True
    assert (_top_k_mask(m, 3) == expected).all()


def test_user_blocks_do_not_change_interest(
    tmp_path: Path, tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import features.compute.compute_interest as ci
    from tests.features.feature_data import random_tables

    tables = random_tables(seed=5, n_users=40)
    whole = build_offline(tmp_path / "a", tables, [AS_OF], tiny_settings)["user_interest"]
    monkeypatch.setattr(ci, "USER_BLOCK", 3)
    blocks = build_offline(tmp_path / "b", tables, [AS_OF], tiny_settings)["user_interest"]
    assert len(whole) > 10
    pd.testing.assert_frame_equal(whole, blocks)
