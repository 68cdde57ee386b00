"""Baselines every model must beat, computed from the same snapshot as the model's rows.

Repurchase: recency rule, RFM score, BG/NBD. Interest: popularity, most-recent categories,
decayed interest alone, and each member's own time-decayed purchase frequency (several
half-lives; the best one is the bar on grocery-like logs where baskets repeat).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from configs import columns as C
from features.bgnbd import fit_bgnbd, rfm_summary
from features.derived import FIT_ROWS
from training.datasets import utc

DECAYED_FREQUENCY = "decayed_frequency"


def recency_rule(frame: pd.DataFrame) -> np.ndarray:
    """More recent = more likely: minus the days since the last order (never = lowest)."""
    recency = frame["recency_days"].to_numpy(dtype=float)
    return -np.where(np.isfinite(recency), recency, 1e9)


def rfm_score(frame: pd.DataFrame) -> np.ndarray:
    """Sum of recency, frequency and monetary quintiles (1..5 each) within the snapshot."""

    def quintile(values: pd.Series) -> np.ndarray:
        pct = values.rank(pct=True, method="average").fillna(0.0)
        return np.ceil(pct.to_numpy() * 5).clip(1, 5)

    recency = -frame["recency_days"].fillna(1e9)
    frequency = frame["order_days_180d"].fillna(0)
    monetary = frame["spend_180d"].fillna(0)
    return quintile(recency) + quintile(frequency) + quintile(monetary)


def bgnbd_scores(
    orders: pd.DataFrame, users: pd.Series, day: date, horizon_days: int, seed: int = 0
) -> np.ndarray:
    """P(>= 1 order in the horizon) under a BG/NBD fitted on the history before `day`.

    The four population parameters are fitted on a seeded sample of at most FIT_ROWS users,
    as the model's own BG/NBD features are (the likelihood is evaluated hundreds of times;
    800k users add time, not accuracy, to four parameters); every user is then scored."""
    summary = rfm_summary(orders, utc(day))
    fit = summary
    if len(summary) > FIT_ROWS:
        fit = summary.sample(n=FIT_ROWS, random_state=seed)
    model = fit_bgnbd(fit["frequency"], fit["recency"], fit["T"])
    probs = pd.Series(
        model.p_purchase(summary["frequency"], summary["recency"], summary["T"], horizon_days),
        index=summary.index,
    )
    return probs.reindex(users.to_numpy()).fillna(0.0).to_numpy()


def repurchase_baselines(
    frame: pd.DataFrame, orders: pd.DataFrame, day: date, horizon_days: int
) -> dict[str, np.ndarray]:
    """Scores aligned with the rows of one snapshot's frame."""
    return {
        "recency_rule": recency_rule(frame),
        "rfm_score": rfm_score(frame),
        "bgnbd": bgnbd_scores(orders, frame[C.USER_ID], day, horizon_days),
    }


def popularity(users: Sequence[str], category_stats: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """Everyone gets the k most popular categories, scored by their buyer share."""
    top = category_stats.nlargest(k, "popularity_share")[[C.CATEGORY_ID, "popularity_share"]]
    frame = pd.DataFrame({C.USER_ID: pd.unique(np.asarray(users))}).merge(top, how="cross")
    return frame.rename(columns={"popularity_share": C.SCORE})


def most_recent(pairs: pd.DataFrame) -> pd.DataFrame:
    """The categories each user bought, most recently bought first."""
    bought = pairs.loc[pairs["is_bought"] > 0, [C.USER_ID, C.CATEGORY_ID, "last_days"]]
    return bought.assign(**{C.SCORE: -bought["last_days"]})[[C.USER_ID, C.CATEGORY_ID, C.SCORE]]


def decayed_interest(pairs: pd.DataFrame) -> pd.DataFrame:
    """The feature table's similarity-spread decayed interest, as is."""
    return pairs[[C.USER_ID, C.CATEGORY_ID]].assign(**{C.SCORE: pairs["interest_score"]})


def decayed_frequency(orders: pd.DataFrame, day: date, half_life_days: float) -> pd.DataFrame:
    """Own purchase frequency: sum over order days of exp(-ln2 * age / half_life), per
    (user, category), from orders strictly before `day`."""
    before = orders[orders[C.ORDERED_AT] < utc(day)]
    per_day = pd.DataFrame(
        {
            C.USER_ID: before[C.USER_ID],
            C.CATEGORY_ID: before[C.CATEGORY_ID],
            "age": (utc(day) - before[C.ORDERED_AT].dt.floor("D")).dt.days,
        }
    )
    per_day = per_day.drop_duplicates()
    per_day[C.SCORE] = np.exp(-np.log(2.0) * per_day["age"].to_numpy() / half_life_days)
    return per_day.groupby([C.USER_ID, C.CATEGORY_ID], as_index=False)[C.SCORE].sum()


def interest_baselines(
    pairs: pd.DataFrame,
    orders: pd.DataFrame,
    category_stats: pd.DataFrame,
    day: date,
    half_lives: Sequence[float],
) -> dict[str, pd.DataFrame]:
    """Long (user, category, score) frames per baseline for one snapshot's users."""
    users = pairs[C.USER_ID].unique()
    out = {
        "popularity": popularity(users, category_stats),
        "most_recent": most_recent(pairs),
        "decayed_interest": decayed_interest(pairs),
    }
    mine = orders[orders[C.USER_ID].isin(users)]  # per-user scores: only these users' orders
    for half_life in half_lives:
        out[f"{DECAYED_FREQUENCY}_hl{half_life:g}"] = decayed_frequency(mine, day, half_life)
    return out
