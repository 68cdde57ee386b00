"""Per-category renewal hazard features (features/compute/compute_renewal.py), hand-made orders."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from configs import columns as C
from features.compute import compute_renewal as R
from features.compute.compute_inputs import connect, prepare_as_of
from features.compute.interest_inputs import load_purchase_days

AS_OF = date(2025, 7, 1)
CYCLES = {"cA": 10.0, "cB": 60.0, "cC": None}  # cC: no known cycle -> left out
LINES = [  # user, category, day
    ("due", "cA", "2025-06-01"),
    ("due", "cA", "2025-06-11"),
    ("due", "cA", "2025-06-21"),  # 10 days before t: one cycle, fully due
    ("fresh", "cA", "2025-06-10"),
    ("fresh", "cA", "2025-06-20"),
    ("fresh", "cA", "2025-06-30"),  # bought yesterday: barely due in a 3-day horizon
    ("quiet", "cA", "2025-01-10"),
    ("quiet", "cA", "2025-01-20"),
    ("quiet", "cA", "2025-01-30"),  # silent for five months
    ("uncycled", "cC", "2025-06-30"),
]
REGISTERED = {"due": "2025-05-01", "fresh": "2025-05-10", "quiet": "2024-12-20"}


def _con(lines: list[tuple[str, str, str]]) -> object:
    orders = pd.DataFrame(lines, columns=[C.USER_ID, C.CATEGORY_ID, "day"])
    orders["ts"] = pd.to_datetime(orders["day"]) + pd.Timedelta(hours=9)
    orders["day"] = orders["ts"].dt.date
    orders["quantity"] = 1.0
    cats = pd.DataFrame({C.CATEGORY_ID: list(CYCLES), "cycle": list(CYCLES.values())})
    users = pd.DataFrame({C.USER_ID: sorted({u for u, _, _ in lines})})
    users[C.REGISTERED_AT] = pd.to_datetime(users[C.USER_ID].map(REGISTERED))
    con = connect()
    con.register("orders_df", orders)
    con.register("cats_df", cats)
    con.register("users_df", users)
    con.execute("CREATE TEMP TABLE orders AS SELECT * FROM orders_df")
    con.execute("CREATE TEMP TABLE users AS SELECT * FROM users_df")
    con.execute("CREATE TEMP TABLE products AS SELECT category_id FROM cats_df")
    con.execute(
        "CREATE TEMP TABLE cat_stats AS SELECT category_id, "
        "CAST(cycle AS DOUBLE) AS repurchase_cycle_days FROM cats_df"
    )
    prepare_as_of(con, AS_OF)
    return con


def _renewal(lines: list[tuple[str, str, str]], horizon_days: int = 3) -> pd.DataFrame:
    con = _con(lines)
    ids = pd.Series(sorted({u for u, _, _ in lines} | {"nobody"}))
    log = load_purchase_days(con, 30.0)  # type: ignore[arg-type]
    out = R.user_renewal(con, AS_OF, horizon_days, ids, log)  # type: ignore[arg-type]
    out.index = ids
    return out


def test_ramp_integral_matches_numeric_integration() -> None:
    cycle = np.array([10.0, 60.0])
    a = np.array([7.0, 90.0])
    for center in (0.5, 0.75):
        s = np.linspace(0.0, 1.0, 200_001)[:, None] * a
        g = 1.0 / (1.0 + np.exp(-R.STEEPNESS * (s / cycle - center)))
        numeric = ((g[1:] + g[:-1]) / 2 * np.diff(s, axis=0)).sum(axis=0)
        np.testing.assert_allclose(R.ramp_integral(a, cycle, center), numeric, rtol=1e-6)


def test_events_and_exposure_by_hand() -> None:
    # one pair bought 30, 20 and 10 days before t, cycle 10, the user observable for 40 days:
    # 3 purchases; exposure = 10 unknown-age days before the first + three ramps of 10 days
    h = R.PairHistory(
        user=np.array([0, 0, 0]),
        cat=np.array([0, 0, 0]),
        age=np.array([30, 20, 10]),
        cycle=np.array([10.0]),
        start=np.array([40.0]),
    )
    starts, pid = R._pairs(h)
    n, expo, logg = R._events_exposure(h, starts, pid, 0.75)
    ramp10 = R.ramp_integral(np.array([10.0]), np.array([10.0]), 0.75)[0]
    assert n.tolist() == [3.0]
    assert expo[0] == pytest.approx(10.0 + 3 * ramp10)
    g1 = 1.0 / (1.0 + np.exp(-R.STEEPNESS * (1.0 - 0.75)))
    assert logg[0] == pytest.approx(2 * np.log(g1))  # two repeats, each one cycle apart


def test_due_category_scores_above_fresh_and_quiet_is_less_alive() -> None:
    got = _renewal(LINES)
    assert list(got.columns) == list(R.RENEWAL_COLUMNS)
    assert got.loc["due", "renewal_p_order"] > 2 * got.loc["fresh", "renewal_p_order"]
    assert got.loc["due", "renewal_max_p_category"] == pytest.approx(
        got.loc["due", "renewal_p_order"]
    )  # one category
    # five silent months at a 10-day cycle: far less likely still buying than the others
    assert got.loc["quiet", "renewal_silence_expected"] > 2.0
    assert got.loc["fresh", "renewal_silence_expected"] < 0.01  # bought yesterday
    assert got.loc["quiet", "renewal_p_alive"] < 0.5 < got.loc["due", "renewal_p_alive"]
    assert got.loc["quiet", "renewal_recent_ratio"] < got.loc["due", "renewal_recent_ratio"]
    probs = got[["renewal_p_order", "renewal_p_alive", "renewal_max_p_category"]].dropna()
    assert ((probs >= 0) & (probs <= 1)).all().all()
    # no cycle known / no order: nothing to say
    assert got.loc[["uncycled", "nobody"]].isna().all().all()


def test_orders_on_or_after_t_change_nothing() -> None:
    later = [("due", "cA", "2025-07-01"), ("fresh", "cA", "2025-07-05")]
    pd.testing.assert_frame_equal(_renewal(LINES), _renewal(LINES + later))


def test_fit_recovers_the_ramp_centre_of_simulated_renewals() -> None:
    rng = np.random.default_rng(3)
    n_pairs, days, cycle, center = 3000, 400, 20.0, 0.5
    lam = rng.gamma(2.0, 0.05, n_pairs)
    last = -rng.integers(0, 40, n_pairs).astype(float)
    user, age = [], []
    for d in range(days):
        g = 1.0 / (1.0 + np.exp(-R.STEEPNESS * ((d - last) / cycle - center)))
        hit = rng.random(n_pairs) < -np.expm1(-lam * g)
        user.append(np.flatnonzero(hit))
        age.append(np.full(hit.sum(), days - d))
        last[hit] = d
    u, a = np.concatenate(user), np.concatenate(age)
    order = np.lexsort((-a, u))
    h = R.PairHistory(
        u[order], np.zeros(u.size, dtype=np.int64), a[order], np.array([cycle]),
        np.full(n_pairs, float(days)),
    )  # fmt: skip
    assert R.fit_renewal(h)[0] == center
