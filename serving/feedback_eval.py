"""Online evaluation from /feedback events: do pushed members convert more than the rest?

For every (group, product, day) that members were pushed individually, the members pushed are
the treated arm and the group's other members the comparison arm; a member converts when an
`ordered` event for that product in that group falls within `attribution_days` after the
first push of that (group, product, day). Rows per (day, model_version) sum over those pushes:
conversion = ordered members / members, uplift = pushed minus unpushed conversion.

Group-wide pushes (no user_id) leave no unpushed member to compare with: they are counted in
`group_pushes` and their (group, product, day) is left out of both arms. The unpushed arm of a
push is shared by every model version that pushed in it (normally one). Pure pandas: the
service (/metrics) and `grouppush export feedback-eval` call the same function.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from configs import columns as C

log = logging.getLogger(__name__)
EVENT, AT, DAY, VERSION = "event", "at", "day", "model_version"
UNKNOWN_VERSION = "unknown"
KEY = [C.GROUP_ID, C.PRODUCT_ID, DAY]
EVAL_COLUMNS = [
    DAY,
    VERSION,
    "pushes",
    "group_pushes",
    "pushed_members",
    "pushed_clicked",
    "pushed_ordered",
    "pushed_conversion",
    "unpushed_members",
    "unpushed_ordered",
    "unpushed_conversion",
    "uplift",
]
COUNT_COLUMNS = [c for c in EVAL_COLUMNS[2:] if "conversion" not in c and c != "uplift"]


def events_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Feedback rows as a typed frame: ids as strings (user_id may be null), `at` UTC."""
    df = pd.DataFrame(list(rows))
    for col in (EVENT, C.GROUP_ID, C.USER_ID, C.PRODUCT_ID, AT, VERSION):
        if col not in df.columns:
            df[col] = None
    df[AT] = pd.to_datetime(df[AT], utc=True, format="ISO8601", errors="coerce")
    if bad := int(df[AT].isna().sum()):  # the API refuses such times; an edited log may not
        log.warning("%d feedback events without a usable `at` left out", bad)
        df = df[df[AT].notna()].copy()
    for col in (C.GROUP_ID, C.PRODUCT_ID, EVENT):
        df[col] = df[col].astype(str)
    df[C.USER_ID] = df[C.USER_ID].where(df[C.USER_ID].notna(), None)
    df[VERSION] = df[VERSION].fillna(UNKNOWN_VERSION).astype(str)
    df[DAY] = df[AT].dt.floor("D")
    return df


def pushes_since(events: pd.DataFrame, since: date) -> pd.DataFrame:
    """`pushed` events at or after SINCE in the pushes contract's shape (group_id, user_id,
    pushed_at): what the push cap counts next to the logged pushes."""
    pushed = events[(events[EVENT] == "pushed") & (events[AT] >= pd.Timestamp(since, tz="UTC"))]
    return pd.DataFrame(
        {
            C.GROUP_ID: pushed[C.GROUP_ID].to_numpy(),
            C.USER_ID: pushed[C.USER_ID].to_numpy(),
            C.PUSHED_AT: pushed[AT].to_numpy(),
        }
    )


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=EVAL_COLUMNS)


def online_evaluation(
    events: pd.DataFrame, group_sizes: Mapping[str, int], attribution_days: int
) -> pd.DataFrame:
    """Per (day, model_version): pushes, members and conversions of both arms (module doc)."""
    pushed = events[events[EVENT] == "pushed"]
    if not len(pushed):
        return _empty()
    whole = pushed[pushed[C.USER_ID].isna()]
    targeted = pushed[pushed[C.USER_ID].notna()]
    whole_keys = whole[KEY].drop_duplicates()
    group_pushes = whole.drop_duplicates([*KEY, VERSION]).groupby([DAY, VERSION]).size()
    # one row per (group, product, day, member), the first version that pushed them
    targeted = targeted.sort_values(AT, kind="stable").drop_duplicates([*KEY, C.USER_ID])
    targeted = targeted.merge(whole_keys, on=KEY, how="left", indicator=True)
    targeted = targeted[targeted["_merge"] == "left_only"].drop(columns="_merge")
    if not len(targeted):
        out = group_pushes.rename("group_pushes").reset_index().reindex(columns=EVAL_COLUMNS)
        out[COUNT_COLUMNS] = out[COUNT_COLUMNS].fillna(0).astype("int64")
        out[DAY] = pd.to_datetime(out[DAY]).dt.date
        return out
    keys = targeted.groupby(KEY).agg(n_pushed=(C.USER_ID, "size"), first=(AT, "min")).reset_index()
    size = keys[C.GROUP_ID].map(group_sizes).astype("float64")
    keys["n_unpushed"] = np.maximum(size.fillna(keys["n_pushed"]) - keys["n_pushed"], 0)
    window = pd.Timedelta(days=attribution_days)

    def responders(kind: str) -> pd.DataFrame:
        """Distinct (push key, member) with a KIND event for the product within the window."""
        acts = events.loc[events[EVENT] == kind, [C.GROUP_ID, C.PRODUCT_ID, C.USER_ID, AT]]
        acts = acts[acts[C.USER_ID].notna()]
        hit = keys[[*KEY, "first"]].merge(acts, on=[C.GROUP_ID, C.PRODUCT_ID])
        hit = hit[(hit[AT] >= hit["first"]) & (hit[AT] < hit["first"] + window)]
        return hit[[*KEY, C.USER_ID]].drop_duplicates()

    members = targeted[[*KEY, C.USER_ID, VERSION]]
    arms = []
    for kind in ("ordered", "clicked"):
        hit = responders(kind).merge(members, on=[*KEY, C.USER_ID], how="left")
        treated = hit[hit[VERSION].notna()].groupby([DAY, VERSION]).size()
        arms.append(treated.rename(f"pushed_{kind}"))
        if kind == "ordered":
            control = hit[hit[VERSION].isna()].groupby(KEY).size().rename("unpushed_ordered")
            keys = keys.merge(control.reset_index(), on=KEY, how="left")
    per_key = (
        members.groupby([*KEY, VERSION]).size().rename("pushed_members").reset_index()
    ).merge(keys, on=KEY)
    by = per_key.groupby([DAY, VERSION])
    out = pd.concat(
        [
            by.size().rename("pushes"),
            group_pushes.rename("group_pushes"),
            by["pushed_members"].sum(),
            *arms,
            by["n_unpushed"].sum().rename("unpushed_members"),
            by["unpushed_ordered"].sum(),
        ],
        axis=1,
    ).fillna(0)
    out["pushed_conversion"] = out["pushed_ordered"] / out["pushed_members"].where(
        out["pushed_members"] > 0
    )
    out["unpushed_conversion"] = out["unpushed_ordered"] / out["unpushed_members"].where(
        out["unpushed_members"] > 0
    )
    out["uplift"] = out["pushed_conversion"] - out["unpushed_conversion"]
    out.index.names = [DAY, VERSION]
    out = out.reset_index()
    out[DAY] = pd.to_datetime(out[DAY]).dt.date
    out[COUNT_COLUMNS] = out[COUNT_COLUMNS].astype("int64")
    return out[EVAL_COLUMNS].sort_values([DAY, VERSION], kind="stable").reset_index(drop=True)


def totals(evaluation: pd.DataFrame) -> pd.DataFrame:
    """Per model_version over every day of EVALUATION: members and conversions of both arms."""
    if not len(evaluation):
        return pd.DataFrame(columns=[c for c in EVAL_COLUMNS if c != DAY])
    summed = evaluation.groupby(VERSION)[
        ["pushes", "pushed_members", "pushed_ordered", "unpushed_members", "unpushed_ordered"]
    ].sum()
    summed["pushed_conversion"] = summed["pushed_ordered"] / summed["pushed_members"].where(
        summed["pushed_members"] > 0
    )
    summed["unpushed_conversion"] = summed["unpushed_ordered"] / summed["unpushed_members"].where(
        summed["unpushed_members"] > 0
    )
    return summed.reset_index()
