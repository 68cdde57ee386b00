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

from features.bgnbd import fit_bgnbd
from features.derived import bgnbd_inputs

POPULATION_COLUMNS = ("population_p_alive", "population_p_order")
FIT_ROWS = 200_000  # users sampled for the fit on very large populations (seeded)


def population_bgnbd(frame: pd.DataFrame, horizon_days: int, seed: int = 0) -> pd.DataFrame:
    """POPULATION_COLUMNS aligned with FRAME's rows (NaN for users without an order).

    FRAME needs recency_days, order_days_total and mean_gap_days (user_activity columns).
    """
    x, t_x, T = bgnbd_inputs(frame)
    buyer = frame["order_days_total"].to_numpy(dtype=float) > 0
    alive, order = np.full(len(frame), np.nan), np.full(len(frame), np.nan)
    if buyer.any():
        fit = np.flatnonzero(buyer)
        if fit.size > FIT_ROWS:
            fit = np.sort(np.random.default_rng(seed).choice(fit, FIT_ROWS, replace=False))
        model = fit_bgnbd(x[fit], t_x[fit], T[fit])
        b = buyer
        alive[b] = model.p_alive(x[b], t_x[b], T[b])
        order[b] = model.p_purchase(x[b], t_x[b], T[b], float(horizon_days))
    columns = {POPULATION_COLUMNS[0]: alive, POPULATION_COLUMNS[1]: order}
    return pd.DataFrame(columns, index=frame.index)
