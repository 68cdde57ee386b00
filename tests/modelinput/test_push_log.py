"""The integer-coded push history and the sampled warm expansion: exact where they replace
the string-id pandas path (same aggregates, same warm pairs, same positives, same queries),
bounded where they sample, and still point in time."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from configs import columns as C
from configs.settings import TrainingSettings
from modelinput import push_pairs as pp
from modelinput.push_log import code_orders, read_push_log
from training import push as tp

T = date(2025, 6, 1)


def _orders(seed: int = 0, n: int = 6000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(T, tz="UTC")
    minutes = rng.integers(-60 * 24 * 40, 60 * 24 * 400, n)
    frame = pd.DataFrame(
        {
            C.USER_ID: [f"u{i:03d}" for i in rng.integers(0, 240, n)],
            C.PRODUCT_ID: [f"P{i:02d}" for i in rng.integers(0, 50, n)],
            C.ORDERED_AT: t0 - pd.to_timedelta(minutes, unit="min"),
            C.QUANTITY: rng.integers(1, 4, n).astype(float),
            C.AMOUNT: rng.random(n) * 10,
        }
    )
    frame[C.CATEGORY_ID] = "k" + (frame[C.PRODUCT_ID].str[1:].astype(int) % 6).astype(str)
    return frame


def _memberships() -> pd.DataFrame:
    users = [f"u{i:03d}" for i in range(240)]
    return pd.DataFrame({C.GROUP_ID: [f"g{i % 7}" for i in range(240)], C.USER_ID: users})


def _reference_history(orders: pd.DataFrame, day: date) -> dict[str, pd.DataFrame]:
    """The string-id pandas aggregation push_history replaced (per snapshot factorize and
    groupby), kept here as the reference the coded path must equal."""
    t = pd.Timestamp(day).tz_localize("UTC")
    at = orders[C.ORDERED_AT]
    o = orders[(at < t) & (at >= t - timedelta(days=pp.LOOKBACK_DAYS))]
    days_ago = ((t - o[C.ORDERED_AT].dt.floor("D")).dt.days).to_numpy(np.int32)
    u, users = pd.factorize(o[C.USER_ID].astype(str), sort=True)
    p, products = pd.factorize(o[C.PRODUCT_ID].astype(str), sort=True)
    c, _ = pd.factorize(o[C.CATEGORY_ID].astype(str), sort=True)
    lines = pd.DataFrame({"u": u, "p": p, "c": c, "days_ago": days_ago})
    out = {"users": pd.DataFrame({"id": users}), "products": pd.DataFrame({"id": products})}
    for name, keys in (("up", ["u", "p"]), ("uc", ["u", "c"])):
        d = lines[[*keys, "days_ago"]].drop_duplicates()
        d = d.assign(**{f"d{int(h)}": 0.5 ** (d["days_ago"] / h) for h in pp.HALF_LIVES})
        agg = d.groupby(keys).agg(
            n_days=("days_ago", "size"),
            last=("days_ago", "min"),
            first=("days_ago", "max"),
            d28=("d28", "sum"),
            d56=("d56", "sum"),
            d112=("d112", "sum"),
        )
        out[name] = agg.reset_index()
    user_days = lines[["u", "days_ago"]].drop_duplicates()
    out["user"] = pd.DataFrame(
        {
            "recency": user_days.groupby("u")["days_ago"].min().to_numpy(),
            "days_90": np.bincount(user_days.u[user_days.days_ago <= 90], minlength=len(users)),
            "days_365": np.bincount(user_days.u, minlength=len(users)),
        }
    )
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_coded_history_equals_the_string_id_aggregation(seed: int) -> None:
    orders = _orders(seed)
    ref = _reference_history(orders, T)
    h = pp.push_history(code_orders(orders), T)
    assert list(h.users) == list(ref["users"]["id"])
    assert list(h.products) == list(ref["products"]["id"])
    for name in ("up", "uc"):
        got = getattr(h, name)
        pd.testing.assert_frame_equal(got[ref[name].columns], ref[name], check_dtype=False)
    for col in ("recency", "days_90", "days_365"):
        np.testing.assert_array_equal(h.user[col].to_numpy(), ref["user"][col].to_numpy())
    # a DataFrame and the log coded once give the same history
    again = pp.push_history(orders, T)
    pd.testing.assert_frame_equal(again.up, h.up)
    pd.testing.assert_frame_equal(again.prod, h.prod)


def test_read_push_log_equals_coding_the_order_frame(tmp_path) -> None:  # type: ignore[no-untyped-def]
    orders = _orders(2)
    orders[[C.USER_ID, C.PRODUCT_ID, C.ORDERED_AT, C.QUANTITY, C.AMOUNT]].to_parquet(
        tmp_path / "orders.parquet"
    )
    cats = orders[[C.PRODUCT_ID, C.CATEGORY_ID]].drop_duplicates()
    cats.to_parquet(tmp_path / "products.parquet")
    before = T - timedelta(days=3)
    log = read_push_log(tmp_path, before)
    ref = pp.read_push_orders(tmp_path, before)
    assert len(log) == len(ref)
    a, b = pp.push_history(log, T), pp.push_history(ref, T)
    for name in ("up", "uc", "prod", "user"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert list(a.users) == list(b.users) and (a.prod_cat == b.prod_cat).all()


def _snapshot() -> tp.SnapshotData:
    cfg = TrainingSettings(horizon_days=30)
    return tp.prepare(code_orders(_orders(3)), _memberships(), T, cfg, 20, seed=5)


def test_warm_lookups_equal_the_full_expansion() -> None:
    s = _snapshot()
    full = pp.warm_pairs(s.history, s.targets, s.edges)
    assert len(full) <= pp.warm_size(s.history, s.targets, s.edges)
    warm_keys = set(zip(full.u, full.p, strict=True))
    n_u, targets = len(s.history.users), s.targets
    u, p = np.repeat(np.arange(n_u), len(targets)), np.tile(targets, n_u)
    got = pp.is_warm(s.history, s.edges, u, p)
    want = np.array([(a, b) in warm_keys for a, b in zip(u, p, strict=True)])
    np.testing.assert_array_equal(got, want)
    # every positive, found without the expansion, is the expansion's positives
    expanded = full.merge(s.members, on="u")
    expanded = expanded[tp._labels(expanded, s.bought, len(s.history.products)) == 1]
    pos = tp.warm_positives(s)
    assert len(pos) > 0
    key = ["u", "p", "g"]
    assert sorted(map(tuple, pos[key].to_numpy().tolist())) == sorted(
        map(tuple, expanded[key].to_numpy().tolist())
    )


def test_queries_come_from_groups_with_a_warm_member() -> None:
    s = _snapshot()
    f = tp.query_rows(s, per_group=1000, seed=0)  # every query of every group
    warm = pp.warm_pairs(s.history, s.targets, s.edges).merge(s.members, on="u")
    want = set(map(tuple, warm[["g", "p"]].drop_duplicates().to_numpy().tolist()))
    assert set(map(tuple, f[["g", "p"]].drop_duplicates().to_numpy().tolist())) == want
    keys = set(zip(warm.u, warm.p, strict=True))
    np.testing.assert_array_equal(
        f["warm"].to_numpy(), [(a, b) in keys for a, b in zip(f.u, f.p, strict=True)]
    )
    # the row cap samples whole groups
    capped = tp.query_rows(s, per_group=5, seed=0, max_rows=200)
    sizes = pd.Series(s.sizes)
    assert capped.g.nunique() < f.g.nunique()
    assert (sizes[capped.g.unique()] * 5).sum() <= 200 or capped.g.nunique() == 1


def test_sampled_rows_keep_every_positive_and_stay_bounded() -> None:
    s = _snapshot()
    bound = pp.warm_size(s.history, s.targets, s.edges)
    rows = tp.warm_rows(s, max_rows=bound // 20, seed=1)
    n_pos = len(tp.warm_positives(s))
    assert int(rows[C.LABEL].sum()) == n_pos
    n_neg = len(rows) - n_pos
    assert 0 < n_neg <= max(bound // 20 - n_pos, n_pos)
    sample = tp.warm_sample(s, bound // 20, seed=1)
    assert len(sample) < len(pp.warm_pairs(s.history, s.targets, s.edges).merge(s.members))
    # the sample's users' warm pairs, all of them (a user sample, not a pair sample)
    users = np.unique(sample.u)
    full = pp.warm_pairs(s.history, s.targets, s.edges).merge(s.members, on="u")
    assert len(full[full.u.isin(users)]) == len(sample)


def test_training_rows_predate_their_label_window() -> None:
    """Orders inside [T, T + horizon) change the labels of a training snapshot's rows but
    none of their features."""
    cfg = TrainingSettings(horizon_days=30)
    orders = _orders(4)
    past = orders[orders[C.ORDERED_AT] < pd.Timestamp(T, tz="UTC")]
    a = tp.prepare(code_orders(orders), _memberships(), T, cfg, 20, seed=5)
    b = tp.prepare(code_orders(past), _memberships(), T, cfg, 20, seed=5)
    assert len(a.bought) > 0 and len(b.bought) == 0
    fa, fb = tp.query_rows(a, 4, seed=0), tp.query_rows(b, 4, seed=0)
    cols = ["u", "p", "g", *pp.PUSH_FEATURES, "warm"]
    pd.testing.assert_frame_equal(fa[cols], fb[cols])
    assert fa[C.LABEL].sum() > 0 and fb[C.LABEL].sum() == 0


def test_pair_feature_lookups_equal_left_joins() -> None:
    """pair_features reads up/uc by binary search; the same values as a left merge."""
    s = _snapshot()
    h = s.history
    rng = np.random.default_rng(0)
    pairs = pd.DataFrame(
        {
            "u": rng.integers(0, len(h.users), 400),
            "p": rng.integers(0, len(h.products), 400),
            "g": rng.integers(0, len(s.sizes), 400),
        }
    )
    f = pp.pair_features(h, pairs, s.edges, s.g_buyers, s.sizes)
    ref = pairs.merge(h.up, on=["u", "p"], how="left")
    assert 0 < ref["n_days"].notna().sum() < len(ref)
    np.testing.assert_allclose(f["p_days"], ref["n_days"].fillna(0), rtol=1e-6)
    np.testing.assert_allclose(f["p_d56"], ref["d56"].fillna(0), rtol=1e-6)
    np.testing.assert_array_equal(f["p_last_days"].isna(), ref["last"].isna())
    cats = pairs.assign(c=h.prod_cat[pairs.p.to_numpy()]).merge(h.uc, on=["u", "c"], how="left")
    np.testing.assert_allclose(f["c_d28"], cats["d28"].fillna(0), rtol=1e-6)


def _recent_buyers(s: tp.SnapshotData, frame: pd.DataFrame, days: int) -> int:
    """Members of FRAME's queries who bought the query's product in the DAYS before s.day."""
    up = s.history.up
    recent = set(zip(up.u[up["last"] < days], up.p[up["last"] < days], strict=True))
    return sum((a, b) in recent for a, b in zip(frame.u, frame.p, strict=True))


def test_the_holdout_grows_by_rounds_until_it_holds_enough_recent_buyers() -> None:
    s = _snapshot()
    base = tp.query_rows(s, per_group=2, seed=0)
    assert base.groupby("g").p.nunique().max() <= 2
    assert _recent_buyers(s, base, 30) < 60
    grown = tp.query_rows(s, per_group=2, seed=0, min_buyers=60, recent_days=30)
    # a superset: the base queries plus later rounds, until 60 recent buyers are in
    key = ["g", "p"]
    assert set(map(tuple, base[key].to_numpy().tolist())) < set(
        map(tuple, grown[key].to_numpy().tolist())
    )
    assert _recent_buyers(s, grown, 30) >= 60
    # the row budget still bounds it; a met minimum adds nothing
    capped = tp.query_rows(s, per_group=2, seed=0, max_rows=len(base) + 50, min_buyers=10**6)
    assert len(base) <= len(capped) <= len(base) + 50
    met = tp.query_rows(s, per_group=2, seed=0, min_buyers=1, recent_days=30)
    pd.testing.assert_frame_equal(met, base)


def test_the_holdouts_size_never_looks_at_its_labels() -> None:
    cfg = TrainingSettings(horizon_days=30)
    orders = _orders(4)
    past = orders[orders[C.ORDERED_AT] < pd.Timestamp(T, tz="UTC")]
    a = tp.prepare(code_orders(orders), _memberships(), T, cfg, 20, seed=5)
    b = tp.prepare(code_orders(past), _memberships(), T, cfg, 20, seed=5)
    fa = tp.query_rows(a, 1, seed=0, min_buyers=200, recent_days=30)
    fb = tp.query_rows(b, 1, seed=0, min_buyers=200, recent_days=30)
    cols = ["u", "p", "g", *pp.PUSH_FEATURES, "warm"]
    pd.testing.assert_frame_equal(fa[cols], fb[cols])
    assert fa.groupby("g").p.nunique().max() > 1
