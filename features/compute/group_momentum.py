"""The user's group momentum as of t: is the group the user buys in speeding up or dying?

A user's own last month is a noisy read of a group that is winding down (late stage) or has
collapsed (zombie): a member who bought three weeks ago looks alive to recency and BG/NBD while
the rest of the group has stopped. Summing over the group's members is a far steadier signal.
Computed from the user_activity columns of the same date (group_id, order_days_30d/90d/180d).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from configs import columns as C

GROUP_COLUMNS = ("group_trend_30_90", "group_active_share_30d")
SUM_COLUMNS = ("d30", "d90", "a30", "a180")


def group_sums(frame: pd.DataFrame) -> pd.DataFrame:
    """Per group id (index): its members' order days in 30 / 90 days and members with an
    order in 30 / 180 days (SUM_COLUMNS). Sums of user partitions add up to the population's."""
    parts = {
        "d30": frame["order_days_30d"].to_numpy(dtype=float),
        "d90": frame["order_days_90d"].to_numpy(dtype=float),
        "a30": (frame["order_days_30d"] > 0).to_numpy(dtype=float),
        "a180": (frame["order_days_180d"] > 0).to_numpy(dtype=float),
    }
    rows = pd.DataFrame(parts, index=frame.index)
    return rows.groupby(frame[C.GROUP_ID], dropna=True).sum()


def momentum(frame: pd.DataFrame, sums: pd.DataFrame) -> pd.DataFrame:
    """GROUP_COLUMNS aligned with FRAME's rows from the groups' SUMS (group_sums over the whole
    population; NaN without a group or group activity).

    group_trend_30_90: the group's order days in 30 days / (its order days in 90 days / 3);
    group_active_share_30d: members with an order in 30 days / members with one in 180 days.
    """
    at = sums.reindex(frame[C.GROUP_ID].to_numpy())
    d30, d90 = at["d30"].to_numpy(dtype=float), at["d90"].to_numpy(dtype=float)
    a30, a180 = at["a30"].to_numpy(dtype=float), at["a180"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = np.where(d90 > 0, d30 / (d90 / 3.0), np.nan)
        share = np.where(a180 > 0, a30 / a180, np.nan)
    return pd.DataFrame({GROUP_COLUMNS[0]: trend, GROUP_COLUMNS[1]: share}, index=frame.index)


def group_momentum(frame: pd.DataFrame) -> pd.DataFrame:
    """GROUP_COLUMNS of FRAME's users, FRAME being the whole population."""
    return momentum(frame, group_sums(frame))
