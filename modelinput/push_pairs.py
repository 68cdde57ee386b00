"""Member x product pair features for the push model, point in time from the order log.

Lives in modelinput/ because training builds its sets with it and the serving snapshot scores
with it (serving never imports training). Everything is computed from the orders strictly
before the snapshot day `t` (and within `lookback_days` of it), so a pair's features never see
its label window [t, t + horizon).

Signals a "rank by own decayed purchases" rule lacks: the member's own interval for the
product (days since last vs their usual gap), close substitutes they buy (item-item cosine
over buyers, within the category), the group's adoption of the product, the product's pace
and trend, price-band fit, and their category interest and ordering activity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from configs import columns as C
from modelinput.push_log import PushLog, code_orders, day_number

LOOKBACK_DAYS = 365
N_NEIGHBOURS = 10  # substitutes kept per product
HALF_LIVES = (28.0, 56.0, 112.0)
PUSH_FEATURES = (
    "p_days",
    "p_last_days",
    "p_gap_days",
    "p_due",
    "p_overdue_days",
    "p_d28",
    "p_d56",
    "p_d112",
    "p_share_in_cat",
    "c_days",
    "c_last_days",
    "c_d28",
    "c_d56",
    "c_d112",
    "c_share",
    "sub_score",
    "sub_max",
    "sub_n",
    "u_recency_days",
    "u_days_90",
    "u_days_365",
    "price_gap",
    "prod_buyers_28",
    "prod_buyers_365",
    "prod_pace",
    "prod_trend",
    "g_adoption",
    "g_buyers",
    "g_size",
)
PAIR_COLUMNS = (C.USER_ID, C.PRODUCT_ID, C.GROUP_ID)


@dataclass(frozen=True)
class PushHistory:
    """Per-snapshot aggregates of the orders before `day`, keyed by integer codes."""

    day: date
    users: pd.Index  # user_id -> code
    products: pd.Index  # product_id -> code
    prod_cat: np.ndarray  # category code per product code
    up: pd.DataFrame  # (u, p) -> n_days, last, first, d28/d56/d112 (distinct order days)
    uc: pd.DataFrame  # (u, c) -> n_days, last, d28/d56/d112
    prod: pd.DataFrame  # index p: buyers_28, buyers_365, units_28, units_prev, log_rel_price
    user: pd.DataFrame  # index u: recency, days_90, days_365, price_level, d56 total

    def up_matrix(self, column: str = "d56") -> sp.csr_matrix:
        """users x products sparse matrix of one (u, p) column."""
        shape = (len(self.users), len(self.products))
        return sp.csr_matrix((self.up[column].to_numpy(), (self.up.u, self.up.p)), shape=shape)


def _decays(days_ago: np.ndarray, half_lives: Sequence[float]) -> dict[str, np.ndarray]:
    return {f"d{int(h)}": np.exp2(-days_ago / h) for h in half_lives}


def sorted_unique(x: np.ndarray) -> np.ndarray:
    """np.unique of int keys by one sort (numpy 2's hash-based unique took 7 s per 1M keys
    under load here, a sort ~0.1 s)."""
    x = np.sort(x)
    return x[np.r_[True, x[1:] != x[:-1]]] if len(x) else x


def _per_key(
    key: np.ndarray, days_ago: np.ndarray, width: int, span: int, names: tuple[str, str]
) -> pd.DataFrame:
    """Distinct order days of each int64 KEY (a * WIDTH + b) -> counts, recency, first day,
    decayed sums; rows sorted by key. DAYS_AGO < SPAN."""
    combo = sorted_unique(key * span + days_ago)  # one entry per (key, day), sorted
    k, d = combo // span, (combo % span).astype(np.int32)
    del combo
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    ends = np.r_[starts[1:], len(k)]
    keys = k[starts]
    out = {
        names[0]: keys // width,
        names[1]: keys % width,
        "n_days": (ends - starts).astype(np.int64),
        "last": d[starts],
        "first": d[ends - 1],
    }
    # decays per day number looked up from a table of SPAN values, not computed per entry
    for name, table in _decays(np.arange(span, dtype=np.float64), HALF_LIVES).items():
        decay = table[d]
        out[name] = np.add.reduceat(decay, starts) if len(d) else decay
    return pd.DataFrame(out)


def _compact(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """CODES renumbered 0..k-1 over the values present (order kept), and the kept values."""
    present = np.bincount(codes, minlength=size) > 0
    remap = np.cumsum(present) - 1
    return remap[codes].astype(np.int64), np.flatnonzero(present)


def push_history(
    orders: pd.DataFrame | PushLog, day: date, lookback_days: int = LOOKBACK_DAYS
) -> PushHistory:
    """Aggregates of ORDERS (user_id, product_id, category_id, ordered_at UTC, quantity,
    optional amount; or the same log coded once by push_log) strictly before DAY and within
    LOOKBACK_DAYS of it. Codes are dense over the window's users/products/categories, in id
    order; up/uc rows are sorted by (u, p) / (u, c)."""
    log = orders if isinstance(orders, PushLog) else code_orders(orders)
    t = day_number(day)
    window = log.mask((log.day < t) & (log.day >= t - lookback_days))
    days_ago = (t - window.day).astype(np.int64)
    u, user_codes = _compact(window.u, len(log.users))
    p, prod_codes = _compact(window.p, len(log.products))
    c, _ = _compact(log.prod_cat[window.p], len(log.categories))
    users, products = log.users[user_codes], log.products[prod_codes]
    n_u, n_p = len(users), len(products)
    prod_cat = np.zeros(n_p, dtype=np.int64)
    prod_cat[p] = c
    n_c = int(c.max(initial=-1)) + 1
    span = lookback_days + 1
    up = _per_key(u * n_p + p, days_ago, n_p, span, ("u", "p"))
    uc = _per_key(u * n_c + c, days_ago, n_c, span, ("u", "c"))
    qty = window.qty
    recent = days_ago <= 28
    prev = (days_ago > 28) & (days_ago <= 112)
    up_p, up_last = up.p.to_numpy(), up["last"].to_numpy()
    prod = pd.DataFrame(
        {
            "buyers_28": np.bincount(up_p[up_last <= 28], minlength=n_p),
            "buyers_365": np.bincount(up_p, minlength=n_p),
            "units_28": np.bincount(p[recent], weights=qty[recent], minlength=n_p),
            "units_prev": np.bincount(p[prev], weights=qty[prev], minlength=n_p),
        }
    )
    prod["log_rel_price"] = _relative_price(window.amount, p, qty, prod_cat, n_p)
    user_days = sorted_unique(u * span + days_ago)
    du, dd = user_days // span, user_days % span
    first_row = np.flatnonzero(np.r_[True, du[1:] != du[:-1]])  # every user has a line
    rel = prod["log_rel_price"].to_numpy()[p]
    ok = np.isfinite(rel)
    price_sum = np.bincount(u[ok], weights=rel[ok], minlength=n_u)
    price_n = np.bincount(u[ok], minlength=n_u)
    user = pd.DataFrame(
        {
            "recency": dd[first_row].astype(np.int32),  # sorted: the smallest days_ago
            "days_90": np.bincount(du[dd <= 90], minlength=n_u),
            "days_365": np.bincount(du, minlength=n_u),
            "price_level": np.where(price_n > 0, price_sum / np.maximum(price_n, 1), np.nan),
            "d56": np.bincount(uc.u, weights=uc.d56, minlength=n_u),
        }
    )
    return PushHistory(day, users, products, prod_cat, up, uc, prod, user)


def _relative_price(
    amount: np.ndarray | None, p: np.ndarray, qty: np.ndarray, prod_cat: np.ndarray, n_p: int
) -> np.ndarray:
    """log(product's mean unit price / its category's median product price); NaN unknown."""
    if amount is None:
        return np.full(n_p, np.nan)
    ok = np.isfinite(amount) & (amount > 0) & (qty > 0)
    spent = np.bincount(p[ok], weights=amount[ok], minlength=n_p)
    units = np.bincount(p[ok], weights=qty[ok], minlength=n_p)
    price = np.where(units > 0, spent / np.maximum(units, 1e-9), np.nan)
    frame = pd.DataFrame({"c": prod_cat, "price": price})
    median = frame.groupby("c")["price"].transform("median").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(price / median)


def substitutes(
    history: PushHistory,
    targets: np.ndarray,
    k: int = N_NEIGHBOURS,
    max_buyers: int | None = None,
) -> pd.DataFrame:
    """Top-K same-category neighbours q of each target product p (codes): cosine of their
    buyer sets; rows (p, q, sim). MAX_BUYERS: neighbours with more buyers are left out (at
    scale a best seller's buyers would all become "warm" for every slow mover near it)."""
    buyers = sp.csc_matrix(
        (np.ones(len(history.up), np.float32), (history.up.u, history.up.p)),
        shape=(len(history.users), len(history.products)),
    )
    counts = np.asarray(buyers.sum(axis=0)).ravel()
    targets = np.unique(np.asarray(targets, dtype=np.int64))
    cats = history.prod_cat
    parts = []
    for c in np.unique(cats[targets]):
        members = np.flatnonzero(cats == c)
        if max_buyers is not None:
            members = members[counts[members] <= max_buyers]
        tgt = targets[cats[targets] == c]
        if len(members) < 2:
            continue
        co = (buyers[:, tgt].T @ buyers[:, members]).tocoo()
        p, q = tgt[co.row], members[co.col]
        sim = co.data / np.sqrt(counts[p] * counts[q])
        keep = p != q
        parts.append(pd.DataFrame({"p": p[keep], "q": q[keep], "sim": sim[keep]}))
    if not parts:
        return pd.DataFrame({"p": [], "q": [], "sim": []}).astype({"p": int, "q": int})
    edges = pd.concat(parts, ignore_index=True)
    edges = edges.sort_values(["p", "sim", "q"], ascending=[True, False, True])
    return edges.groupby("p", sort=False).head(k).reset_index(drop=True)


def _lookup(
    table: pd.DataFrame, second: str, u: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Row of TABLE (columns u, SECOND; sorted by them, as push_history builds up and uc)
    holding each (U, B), and whether it exists: a binary search per pair instead of a hash
    join against the whole table (13.5M rows on the large preset, copied per merge)."""
    width = int(max(np.max(table[second].to_numpy(), initial=-1), np.max(b, initial=-1))) + 1
    keys = table.u.to_numpy(np.int64) * width + table[second].to_numpy(np.int64)
    order = None
    if len(keys) and not np.all(keys[1:] >= keys[:-1]):
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
    x = np.asarray(u, np.int64) * width + np.asarray(b, np.int64)
    if not len(keys):
        return np.zeros(len(x), np.int64), np.zeros(len(x), bool)
    pos = np.minimum(np.searchsorted(keys, x), len(keys) - 1)
    hit = keys[pos] == x
    return (pos if order is None else order[pos]), hit


def _taken(values: np.ndarray, rows: np.ndarray, hit: np.ndarray) -> np.ndarray:
    """VALUES at ROWS where HIT, NaN elsewhere (a left join's column)."""
    out = np.full(len(rows), np.nan)
    out[hit] = values[rows[hit]]
    return out


def substitute_scores(
    history: PushHistory, edges: pd.DataFrame, pairs: pd.DataFrame | None = None
) -> pd.DataFrame:
    """(u, p) -> sub_score (sum of sim x the member's decayed purchases of p's neighbours),
    sub_max, sub_n and the neighbour that contributed most (sub_q); for every member, or only
    for PAIRS (u, p) when given: walked from the pairs' side (<= N_NEIGHBOURS lookups each)
    instead of from every buyer of every neighbour (8.2M rows for 1,784 products on demo)."""
    if pairs is not None:
        return _walk_pairs(history, edges, pairs.u.to_numpy(), pairs.p.to_numpy())
    bought = history.up[["u", "p", "d56"]].rename(columns={"p": "q"})
    joined = edges.merge(bought, on="q")
    joined["contrib"] = joined["sim"] * joined["d56"]
    joined = joined.sort_values(
        ["u", "p", "contrib", "q"], ascending=[True, True, False, True], kind="stable"
    )  # ties name the same neighbour whichever side the walk came from
    grouped = joined.groupby(["u", "p"], sort=False)
    out = grouped.agg(
        sub_score=("contrib", "sum"),
        sub_max=("contrib", "max"),
        sub_n=("q", "size"),
        sub_q=("q", "first"),
    )
    return out.reset_index()


def _walk_pairs(
    history: PushHistory, edges: pd.DataFrame, u: np.ndarray, p: np.ndarray
) -> pd.DataFrame:
    """substitute_scores of the distinct pairs (U, P) that have a substitute purchase, in
    (u, p) order: each pair's <= N_NEIGHBOURS neighbours looked up in the history by binary
    search, one neighbour rank at a time (the pandas merge, sort and groupby of the same walk
    took 34 s of demo's push training under load)."""
    n_p = len(history.products)
    keys = sorted_unique(np.asarray(u, np.int64) * n_p + np.asarray(p, np.int64))
    u, p = keys // n_p, keys % n_p
    e = edges.sort_values(["p", "q"], kind="stable")
    src, dst = e.p.to_numpy(np.int64), e.q.to_numpy(np.int64)
    sim = e.sim.to_numpy(np.float64)
    degree = np.bincount(src, minlength=n_p)
    start = np.r_[0, np.cumsum(degree)[:-1]]
    up_keys = history.up.u.to_numpy(np.int64) * n_p + history.up.p.to_numpy(np.int64)
    d56 = history.up["d56"].to_numpy(np.float64)
    if len(up_keys) and not np.all(up_keys[1:] >= up_keys[:-1]):
        order = np.argsort(up_keys, kind="stable")
        up_keys, d56 = up_keys[order], d56[order]
    total, count = np.zeros(len(keys)), np.zeros(len(keys), np.int64)
    best, best_q = np.full(len(keys), -np.inf), np.full(len(keys), -1, np.int64)
    for j in range(int(degree.max(initial=0)) if len(up_keys) else 0):
        has = np.flatnonzero(degree[p] > j)
        edge = start[p[has]] + j
        q = dst[edge]
        pos = np.minimum(np.searchsorted(up_keys, u[has] * n_p + q), len(up_keys) - 1)
        hit = up_keys[pos] == u[has] * n_p + q
        has, q, contrib = has[hit], q[hit], sim[edge[hit]] * d56[pos[hit]]
        total[has] += contrib
        count[has] += 1
        better = (contrib > best[has]) | ((contrib == best[has]) & (q < best_q[has]))
        best[has[better]], best_q[has[better]] = contrib[better], q[better]
    keep = count > 0
    return pd.DataFrame(
        {
            "u": u[keep],
            "p": p[keep],
            "sub_score": total[keep],
            "sub_max": best[keep],
            "sub_n": count[keep],
            "sub_q": best_q[keep],
        }
    )


def warm_pairs(
    history: PushHistory,
    targets: np.ndarray,
    edges: pd.DataFrame,
    users: np.ndarray | None = None,
) -> pd.DataFrame:
    """(u, p) codes of members with a product-level signal for a target: they bought it or
    one of its substitutes in the lookback. USERS (a boolean mask over user codes): only
    those members, chosen before the substitute expansion is materialised (on the large
    preset the full expansion is hundreds of millions of pairs)."""
    up = history.up
    if users is not None:
        up = up[users[up.u.to_numpy()]]
    own = up.loc[up.p.isin(targets), ["u", "p"]]
    bought = up[["u", "p"]].rename(columns={"p": "q"})
    via = edges[edges.p.isin(targets)].merge(bought, on="q")[["u", "p"]]
    return pd.concat([own, via], ignore_index=True).drop_duplicates(ignore_index=True)


def warm_size(history: PushHistory, targets: np.ndarray, edges: pd.DataFrame) -> int:
    """An upper bound of len(warm_pairs(...)) from buyer counts, without the expansion."""
    buyers = history.prod["buyers_365"].to_numpy()
    via = edges.q.to_numpy()[edges.p.isin(targets).to_numpy()].astype(np.int64)
    return int(buyers[np.unique(targets).astype(np.int64)].sum() + buyers[via].sum())


def _in_sorted(keys: np.ndarray, x: np.ndarray) -> np.ndarray:
    pos = np.minimum(np.searchsorted(keys, x), max(len(keys) - 1, 0))
    return keys[pos] == x if len(keys) else np.zeros(len(x), bool)


def is_warm(history: PushHistory, edges: pd.DataFrame, u: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per (u, p) code pair: is it a warm pair (the member bought p or one of EDGES'
    neighbours of p in the lookback)? Key lookups: no expansion over buyers."""
    n_p = len(history.products)
    u, p = np.asarray(u, np.int64), np.asarray(p, np.int64)
    keys = history.up.u.to_numpy(np.int64) * n_p + history.up.p.to_numpy(np.int64)
    keys = keys if np.all(keys[1:] >= keys[:-1]) else np.sort(keys)
    out = _in_sorted(keys, u * n_p + p)
    e = edges.sort_values(["p", "q"])
    src, dst = e.p.to_numpy(np.int64), e.q.to_numpy(np.int64)
    degree = np.bincount(src, minlength=n_p)
    start = np.r_[0, np.cumsum(degree)[:-1]]
    for j in range(int(degree.max(initial=0))):
        has = degree[p] > j
        q = dst[start[p[has]] + j]
        out[has] |= _in_sorted(keys, u[has] * n_p + q)
    return out


def group_buyers(
    history: PushHistory, member_group: pd.DataFrame, targets: np.ndarray
) -> pd.DataFrame:
    """(g, p) -> buyers: members of group g (codes in MEMBER_GROUP's u, g) who bought target
    p in the lookback."""
    bought = history.up.loc[history.up.p.isin(targets), ["u", "p"]]
    joined = bought.merge(member_group[["u", "g"]], on="u")
    return joined.groupby(["g", "p"], sort=False).size().rename("buyers").reset_index()


def _zero_nan(x: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), 0.0, x)


def _left_join(
    frame: dict[str, np.ndarray], keys: np.ndarray, table: pd.DataFrame, t_keys: np.ndarray
) -> None:
    """Add TABLE's columns (but u, p, g) to the FRAME columns, matched by int64 KEYS against
    TABLE's unique T_KEYS: a left merge's values and dtypes (NaN, and ints as floats, where a
    key is missing) without a hash join copying both frames."""
    order = np.argsort(t_keys, kind="stable")
    sorted_keys = t_keys[order]
    pos = np.minimum(np.searchsorted(sorted_keys, keys), max(len(sorted_keys) - 1, 0))
    hit = sorted_keys[pos] == keys if len(sorted_keys) else np.zeros(len(keys), bool)
    rows = order[pos] if len(order) else pos
    for col in table.columns:
        if col in ("u", "p", "g"):
            continue
        values = table[col].to_numpy()
        if hit.all():
            frame[col] = values[rows]
        else:
            frame[col] = _taken(values.astype(np.float64), rows, hit)


def pair_features(
    history: PushHistory,
    pairs: pd.DataFrame,
    edges: pd.DataFrame,
    g_buyers: pd.DataFrame,
    g_size: np.ndarray,
    sub: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """PUSH_FEATURES for PAIRS (int columns u, p, g: codes; g indexes G_SIZE), plus sub_q.
    G_BUYERS: group_buyers over the pairs' products; SUB: substitute_scores covering the
    pairs (computed from EDGES when None)."""
    f: dict[str, np.ndarray] = {k: pairs[k].to_numpy() for k in ("u", "p", "g")}
    u, p, g = (f[k].astype(np.int64) for k in ("u", "p", "g"))
    c = history.prod_cat[p]
    up_names = {"n_days": "p_days", "last": "p_last_days", "first": "p_first"}
    up_names |= {f"d{h}": f"p_d{h}" for h in (28, 56, 112)}
    rows, hit = _lookup(history.up, "p", u, p)
    for col, name in up_names.items():
        f[name] = _taken(history.up[col].to_numpy(), rows, hit)
    uc_names = {"n_days": "c_days", "last": "c_last_days"}
    uc_names |= {f"d{h}": f"c_d{h}" for h in (28, 56, 112)}
    rows, hit = _lookup(history.uc, "c", u, c)
    for col, name in uc_names.items():
        f[name] = _taken(history.uc[col].to_numpy(), rows, hit)
    if sub is None:
        sub = _walk_pairs(history, edges, u, p)
    n_p = len(history.products)
    _left_join(f, u * n_p + p, sub, sub.u.to_numpy(np.int64) * n_p + sub.p.to_numpy(np.int64))
    gb_keys = g_buyers.g.to_numpy(np.int64) * n_p + g_buyers.p.to_numpy(np.int64)
    _left_join(f, g * n_p + p, g_buyers[["buyers"]], gb_keys)
    for col in ("p_days", "p_d28", "p_d56", "p_d112", "c_days", "c_d28", "c_d56", "c_d112"):
        f[col] = np.nan_to_num(f[col], nan=0.0)
    for col in ("sub_score", "sub_max", "sub_n", "buyers"):
        f[col] = np.nan_to_num(np.asarray(f[col], np.float64), nan=0.0)
    user = {k: history.user[k].to_numpy()[u] for k in ("recency", "days_90", "days_365")}
    user_d56 = history.user["d56"].to_numpy(np.float64)[u]
    price_level = history.user["price_level"].to_numpy(np.float64)[u]
    prod = {k: history.prod[k].to_numpy(np.float64)[p] for k in history.prod.columns}
    with np.errstate(divide="ignore", invalid="ignore"):
        multi = np.where(f["p_days"] > 1, f["p_days"] - 1, np.nan)
        gap = (f["p_first"] - f["p_last_days"]) / multi
        f["p_gap_days"] = gap
        f["p_due"] = f["p_last_days"] / np.where(gap > 0, gap, np.nan)
        f["p_overdue_days"] = f["p_last_days"] - gap
        f["p_share_in_cat"] = _zero_nan(f["p_d56"] / np.where(f["c_d56"] > 0, f["c_d56"], np.nan))
        f["c_share"] = _zero_nan(f["c_d56"] / np.where(user_d56 > 0, user_d56, np.nan))
        f["u_recency_days"] = user["recency"]
        f["u_days_90"] = user["days_90"]
        f["u_days_365"] = user["days_365"]
        f["price_gap"] = np.abs(prod["log_rel_price"] - price_level)
        f["prod_buyers_28"] = prod["buyers_28"]
        f["prod_buyers_365"] = prod["buyers_365"]
        f["prod_pace"] = prod["buyers_28"] / (prod["buyers_365"] * 28.0 / LOOKBACK_DAYS)
        f["prod_trend"] = (prod["units_28"] + 1.0) / (prod["units_prev"] / 3.0 + 1.0)
        size = g_size[g].astype(np.float64)
        own = (f["p_days"] > 0).astype(np.float64)
        f["g_buyers"] = f["buyers"] - own  # the other members: a member is not their own signal
        f["g_size"] = size
        f["g_adoption"] = f["g_buyers"] / np.maximum(size - 1.0, 1.0)
    out = {k: f[k] for k in ("u", "p", "g", "sub_q")}
    out |= {k: np.asarray(f[k], np.float32) for k in PUSH_FEATURES}
    return pd.DataFrame(out)


def member_groups(
    memberships: pd.DataFrame, history: PushHistory, day: date
) -> tuple[pd.DataFrame, pd.Index, np.ndarray]:
    """(u, g) codes of memberships current at DAY of users with history, the group index,
    and each group's size (members with history)."""
    m = memberships
    t = pd.Timestamp(day).tz_localize("UTC")
    if C.JOINED_AT in m.columns:
        joined = pd.to_datetime(m[C.JOINED_AT], utc=True)
        m = m[joined.isna() | (joined < t)]
    if C.LEFT_AT in m.columns:
        left = pd.to_datetime(m[C.LEFT_AT], utc=True)
        m = m[left.isna() | (left >= t)]
    u = history.users.get_indexer(m[C.USER_ID].astype(str))
    g, groups = pd.factorize(m[C.GROUP_ID].astype(str), sort=True)
    keep = u >= 0
    frame = pd.DataFrame({"u": u[keep], "g": g[keep]}).drop_duplicates(ignore_index=True)
    size = np.bincount(frame.g, minlength=len(groups))
    return frame, groups, size


def read_push_orders(data: Path, before: date | None = None) -> pd.DataFrame:
    """The order lines the pair features read (strictly before BEFORE when given), ids as
    strings, ordered_at in UTC, category_id from the products table (else the product)."""
    from features.contract.io import read_table

    cols = [C.USER_ID, C.PRODUCT_ID, C.ORDERED_AT, C.QUANTITY, C.AMOUNT]
    orders = read_table(data, "orders", cols)
    if orders is None:
        raise FileNotFoundError(f"{data / 'orders.parquet'}: the orders table is required")
    orders[C.ORDERED_AT] = pd.to_datetime(orders[C.ORDERED_AT], utc=True)
    if before is not None:
        orders = orders[orders[C.ORDERED_AT] < pd.Timestamp(before).tz_localize("UTC")]
    orders[C.USER_ID] = orders[C.USER_ID].astype(str)
    orders[C.PRODUCT_ID] = orders[C.PRODUCT_ID].astype(str)
    products = read_table(data, "products")
    category = orders[C.PRODUCT_ID]
    if products is not None and C.CATEGORY_ID in products.columns:
        mapping = products.set_index(products[C.PRODUCT_ID].astype(str))[C.CATEGORY_ID]
        category = category.map(mapping).fillna(category)
    orders[C.CATEGORY_ID] = category.astype(str)
    return orders


def read_memberships(data: Path) -> pd.DataFrame:
    """Memberships (group_id, user_id, joined_at / left_at when present)."""
    from features.contract.io import read_table

    found = read_table(data, "memberships")
    if found is None or not len(found):
        raise FileNotFoundError(
            f"{data / 'memberships.parquet'}: the push model ranks the members of groups; "
            "ingest orders with group_id or store_id, or a memberships table"
        )
    return found
