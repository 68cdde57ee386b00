"""The fast user_activity tail (readiness, population BG/NBD, tags) against reference copies of
the code it replaced (tests/features/tail_reference.py): the values must be identical."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from configs.settings import FeatureSettings
from features.compute.compute_readiness import readiness_by_position
from features.compute.interest_inputs import EPOCH, PurchaseDays, run_stats
from features.compute.population_bgnbd import population_bgnbd
from features.compute.tags import TagDef, evaluate_tags, load_taxonomy, taxonomy_path
from tests.features import tail_reference as ref

FIRST_DAY, LAST_DAY = 20_000, 20_400


def _log(seed: int, n_users: int = 300, n_cats: int = 12, n_lines: int = 6000) -> PurchaseDays:
    """Random distinct (user, category, day) rows in order; the last 20 users have none and a
    third start late (new users: exposure under MIN_EXPOSURE_DAYS at some t)."""
    rng = np.random.default_rng(seed)
    start = np.where(
        rng.random(n_users) < 1 / 3, rng.integers(FIRST_DAY, LAST_DAY, n_users), FIRST_DAY
    )
    user = rng.integers(0, n_users - 20, n_lines)
    keys = np.unique(
        np.stack(
            [user, rng.integers(0, n_cats, n_lines), rng.integers(start[user], LAST_DAY + 1)],
            axis=1,
        ),
        axis=0,
    )
    u, c, d = keys.T
    new_run = np.ones(len(u), bool)
    new_run[1:] = (u[1:] != u[:-1]) | (c[1:] != c[:-1])
    run_start = np.flatnonzero(new_run)
    return PurchaseDays(
        users=pa.array([f"u{i:04d}" for i in range(n_users)], pa.string()),
        categories=np.array([f"c{i:02d}" for i in range(n_cats)], dtype=object),
        run=np.cumsum(new_run) - 1,
        day=d.astype(np.int32),
        w=rng.uniform(0.5, 3.0, len(u)),
        run_start=run_start,
        run_user=u[run_start].astype(np.int64),
        run_cat=c[run_start].astype(np.int64),
        half_life_days=30.0,
    )


def _cycles(known: bool) -> pd.Series:
    cycles = pd.Series({f"c{i:02d}": 5.0 + 7 * i for i in range(12)}, dtype=float)
    if not known:  # no cycle, a zero and a negative one, and a category missing from cat_stats
        cycles[["c01", "c04", "c07"]] = [np.nan, 0.0, -3.0]
        cycles = cycles.drop("c10")
    return cycles


@pytest.mark.parametrize("known", [True, False])
@pytest.mark.parametrize("t_day", [FIRST_DAY + 150, LAST_DAY + 5])  # some / all runs before t
def test_readiness_matches_reference(t_day: int, known: bool) -> None:
    log = _log(seed=t_day)
    as_of = EPOCH + timedelta(days=t_day)
    stats = run_stats(log, as_of, 30.0)
    want, want_ordered = ref.readiness_by_position(log, stats, as_of, _cycles(known), 30)
    for _ in range(2):  # the second call reuses the per-build first days (log.cache)
        got, ordered = readiness_by_position(log, stats, as_of, _cycles(known), 30)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        np.testing.assert_array_equal(ordered, want_ordered)
    assert want_ordered.sum() < len(log.users)  # users without an order before t exist


def _activity(seed: int, n: int = 4000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 12, n)
    return pd.DataFrame(
        {
            "recency_days": np.where(days > 0, rng.integers(0, 300, n), np.nan),
            "order_days_total": days,
            "mean_gap_days": np.where(days > 1, rng.uniform(1, 60, n), np.nan),
        },
        index=pd.RangeIndex(n) + 7,
    )


@pytest.mark.parametrize("buyers", [True, False])
def test_population_bgnbd_matches_reference(buyers: bool) -> None:
    frame = _activity(3)
    if not buyers:
        frame["order_days_total"] = 0
    # the fit now runs on the sorted distinct (x, t_x, T) with their weighted mean T as the
    # start (so any user partitioning gives the same fit, test_activity_partitions.py):
    # L-BFGS-B stops within its tolerance of the optimum, which moves the scores ~1e-3
    pd.testing.assert_frame_equal(
        population_bgnbd(frame, 30), ref.population_bgnbd(frame, 30), rtol=1e-2, atol=1e-4
    )


TAXONOMY = load_taxonomy(taxonomy_path(FeatureSettings()))
# enough rules that the packed combination number must be refactorized on the way (> 62 bits)
MANY = [
    TagDef(f"r{i}", "test", "t", "t", "t", "daily", rule=f"spend_180d_pct >= {i / 80} or is_koc")
    for i in range(80)
] + [TagDef("ch", "test", "t", "t", "t", "daily", expand="channel")]


def _users(seed: int, n: int = 5000) -> pd.DataFrame:
    from features.store.catalog import USER_ACTIVITY

    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for f in USER_ACTIVITY.features:
        if f.dtype == "str":
            values = rng.choice(["consumer", "douyin", "north", "", "x"], n).astype(object)
            values[rng.random(n) < 0.1] = None
            data[f.name] = values
        else:
            values = rng.integers(0, 5, n).astype(float)
            values[rng.random(n) < 0.2] = np.nan
            data[f.name] = values
    frame = pd.DataFrame(data, index=pd.RangeIndex(n) * 2)
    frame["is_koc"] = rng.integers(0, 2, n)
    frame["identity_type"] = rng.choice(["consumer", "physical_store", "online_shop"], n)
    return frame


@pytest.mark.parametrize("tags", [TAXONOMY, MANY, TAXONOMY + MANY, []])
def test_tags_match_reference(tags: list[TagDef]) -> None:
    frame = _users(5)
    got = evaluate_tags(frame, tags)
    want = ref.evaluate_tags(frame, tags)
    pd.testing.assert_series_equal(got, want, check_exact=True)
    assert got.nunique() > (1 if tags else 0)
    empty = frame.iloc[:0]
    pd.testing.assert_series_equal(evaluate_tags(empty, tags), ref.evaluate_tags(empty, tags))


def test_tags_unknown_column_names_the_tag() -> None:
    bad = TagDef("bad", "test", "t", "t", "t", "daily", rule="no_such_column > 1")
    with pytest.raises(ValueError, match="'bad'"):
        evaluate_tags(_users(1), [bad])
