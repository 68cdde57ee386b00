"""BG/NBD fitted on the whole population as of t, scored per user: a point-in-time feature.

The repurchase pipeline also derives BG/NBD columns (features/derived.py), but with the
parameters of its training snapshots; the population drifts (churn accumulates, groups
decline), so a model fitted months earlier mis-scores recency. Refitting on every user's
history before t, as each as-of date is built, gives the current population's P(alive) and
P(order in the horizon) as plain user_activity columns; the model then adds what BG/NBD cannot
see (category readiness, basket, profile). Uses only the activity columns of that same date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.bgnbd import BGNBD, fit_weighted
from features.derived import bgnbd_inputs

POPULATION_COLUMNS = ("population_p_alive", "population_p_order")
COUNT_COLUMNS = ("x", "t_x", "T", "w")


def bgnbd_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """COUNT_COLUMNS: the buyers' distinct (x, t_x, T) and how many buyers have each. Counts of
    user partitions add up to the population's (compute/spark_activity.py); the fit needs
    nothing else, so it covers every buyer however many there are.

    FRAME needs recency_days, order_days_total and mean_gap_days (user_activity columns)."""
    x, t_x, T = bgnbd_inputs(frame)
    buyer = frame["order_days_total"].to_numpy(dtype=float) > 0
    rows = pd.DataFrame({"x": x[buyer], "t_x": t_x[buyer], "T": T[buyer]})
    return rows.value_counts(sort=False).rename("w").reset_index()


def fit_population(counts: pd.DataFrame) -> BGNBD | None:
    """BG/NBD fitted on summed bgnbd_counts (None without buyers). The rows are sorted and the
    start is their weighted mean T, so any split of the population gives the same fit."""
    counts = counts.groupby(["x", "t_x", "T"], sort=True)["w"].sum().reset_index()
    if counts.empty:
        return None
    ux, ut, uT, w = (counts[c].to_numpy(dtype=float) for c in COUNT_COLUMNS)
    return fit_weighted(ux, ut, uT, w, max(float((w * uT).sum() / w.sum()), 1.0))


def score_population(frame: pd.DataFrame, model: BGNBD | None, horizon_days: int) -> pd.DataFrame:
    """POPULATION_COLUMNS aligned with FRAME's rows (NaN for users without an order)."""
    x, t_x, T = bgnbd_inputs(frame)
    b = frame["order_days_total"].to_numpy(dtype=float) > 0
    alive, order = np.full(len(frame), np.nan), np.full(len(frame), np.nan)
    if model is not None and b.any():
        alive[b] = model.p_alive(x[b], t_x[b], T[b])
        order[b] = model.p_purchase(x[b], t_x[b], T[b], float(horizon_days))
    columns = {POPULATION_COLUMNS[0]: alive, POPULATION_COLUMNS[1]: order}
    return pd.DataFrame(columns, index=frame.index)


def population_bgnbd(frame: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """POPULATION_COLUMNS aligned with FRAME's rows: fitted on FRAME's buyers, scored."""
    return score_population(frame, fit_population(bgnbd_counts(frame)), horizon_days)
