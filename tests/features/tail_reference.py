"""Reference copies of the user_activity tail as of 252cade (readiness by masking every run,
population BG/NBD by .loc, tags over a copied frame with one factorize per tag): the fast
versions must give the very same values (tests/features/compute/test_tail_fast_paths.py)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from features.bgnbd import fit_bgnbd
from features.compute.compute_readiness import (
    DUE_COLUMN,
    MIN_EXPOSURE_DAYS,
    READINESS_CAP,
    READINESS_COLUMNS,
    WINDOW_DAYS,
    _extreme,
    _per_user,
)
from features.compute.interest_inputs import EPOCH, PurchaseDays, RunStats
from features.compute.population_bgnbd import POPULATION_COLUMNS
from features.compute.tags import EXPAND_SEPARATOR, PCT_SUFFIX, TagDef
from features.derived import bgnbd_inputs


def readiness_by_position(
    log: PurchaseDays, stats: RunStats, as_of: date, cycles: pd.Series, horizon_days: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """user_readiness for every user of LOG by position (row i: log.users[i]), and the mask
    of the users with an order before AS_OF (the rows user_readiness keeps)."""
    h = float(horizon_days)
    n_users = len(log.users)
    cycle_of = cycles.reindex(pd.Index(log.categories)).to_numpy(dtype=float)
    run_user = log.run_user[stats.runs]
    first_day = log.day[log.run_start[stats.runs]].astype(float)  # a run's days are sorted
    user_first = _extreme(first_day, run_user, n_users, np.minimum)
    t = float((as_of - EPOCH).days)
    exposure = np.clip(t - user_first[run_user], MIN_EXPOSURE_DAYS, WINDOW_DAYS)
    cycle = cycle_of[log.run_cat[stats.runs]]
    known = np.isfinite(cycle) & (cycle > 0)
    u, age, w, cycle, exposure = (
        a[known] for a in (run_user, stats.last_days, stats.counts_180d, cycle, exposure)
    )
    r = np.minimum(age / cycle, READINESS_CAP)
    repeat = w >= 2
    readiness_sum = _per_user(w * r, u, n_users)
    weight = _per_user(w, u, n_users)
    progress = np.clip((age + h / 2) / cycle, 0.0, 1.0)
    frame = pd.DataFrame(
        {
            "readiness_sum": readiness_sum,
            "mean_readiness": np.divide(
                readiness_sum, weight, out=np.full(n_users, np.nan), where=weight > 0
            ),
            "max_readiness": _extreme(r[repeat], u[repeat], n_users, np.maximum),
            "due_in_horizon": _per_user(np.where(age + h >= cycle, w, 0.0), u, n_users),
            "expected_orders_horizon": _per_user(h * w / exposure * progress, u, n_users),
            "days_to_next_due": _extreme((cycle - age)[repeat], u[repeat], n_users, np.minimum),
        }
    )
    has_cycle = np.bincount(u, minlength=n_users) > 0
    frame.loc[~has_cycle, list(READINESS_COLUMNS)] = np.nan
    in_cycle = (age >= cycle) & (age < 2 * cycle)
    frame[DUE_COLUMN] = np.bincount(u[in_cycle], minlength=n_users).astype(np.int64)
    return frame, np.bincount(run_user, minlength=n_users) > 0


FIT_ROWS = 200_000  # the old fit's sample of very large populations


def population_bgnbd(frame: pd.DataFrame, horizon_days: int, seed: int = 0) -> pd.DataFrame:
    """POPULATION_COLUMNS aligned with FRAME's rows (NaN for users without an order).

    FRAME needs recency_days, order_days_total and mean_gap_days (user_activity columns).
    """
    x, t_x, T = bgnbd_inputs(frame)
    buyer = frame["order_days_total"].to_numpy(dtype=float) > 0
    out = pd.DataFrame(np.nan, index=frame.index, columns=list(POPULATION_COLUMNS))
    if not buyer.any():
        return out
    fit = np.flatnonzero(buyer)
    if fit.size > FIT_ROWS:
        fit = np.sort(np.random.default_rng(seed).choice(fit, FIT_ROWS, replace=False))
    model = fit_bgnbd(x[fit], t_x[fit], T[fit])
    b = buyer
    out.loc[b, POPULATION_COLUMNS[0]] = model.p_alive(x[b], t_x[b], T[b])
    out.loc[b, POPULATION_COLUMNS[1]] = model.p_purchase(x[b], t_x[b], T[b], float(horizon_days))
    return out


def _with_percentiles(df: pd.DataFrame, tags: list[TagDef]) -> pd.DataFrame:
    used = set().union(*(t.names_used() for t in tags)) if tags else set()
    pct = sorted(n for n in used if n.endswith(PCT_SUFFIX) and n not in df.columns)
    if not pct:
        return df
    extra = {n: df[n[: -len(PCT_SUFFIX)]].rank(pct=True, method="max") for n in pct}
    return df.assign(**extra)


def _tag_codes(frame: pd.DataFrame, tag: TagDef) -> tuple[np.ndarray, list[str]]:
    """Per row an index into LABELS (the ids this tag can give), -1 when the row lacks it."""
    if tag.expand is not None:
        values = frame[tag.expand]
        text = values.astype(str).where(values.notna() & (values.astype(str) != ""))
        codes, uniques = pd.factorize(text)  # NaN -> -1
        return codes, [tag.id + EXPAND_SEPARATOR + str(v) for v in uniques]
    assert tag.rule is not None
    try:
        mask = frame.eval(tag.rule, engine="python")
    except Exception as exc:
        raise ValueError(f"tag {tag.id!r}: rule {tag.rule!r} failed: {exc}") from exc
    return np.where(np.asarray(mask, dtype=bool), 0, -1), [tag.id]


def evaluate_tags(df: pd.DataFrame, tags: list[TagDef]) -> pd.Series:
    """Comma-joined ids of the tags each row has ('' for none), in taxonomy order.

    Rows share few distinct tag combinations, so each row gets a combination number (folded
    tag by tag with pd.factorize, so it stays < len(df)) and each combination's string is
    built once: joining strings row by row cost ~10 s per million users.
    """
    frame = _with_percentiles(df, tags)
    combo = np.zeros(len(df), dtype=np.int64)
    per_tag = []
    for tag in tags:
        codes, labels = _tag_codes(frame, tag)
        per_tag.append((codes, labels))
        combo, _ = pd.factorize(combo * (len(labels) + 1) + (codes + 1))
    _, first = np.unique(combo, return_index=True)  # combination k first seen at row first[k]
    text = np.array(
        [",".join(labels[c[row]] for c, labels in per_tag if c[row] >= 0) for row in first],
        dtype=object,
    )
    return pd.Series(text[combo] if len(df) else np.array([], dtype=object), index=df.index)
