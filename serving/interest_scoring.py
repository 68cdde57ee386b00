"""The interest champion's scores for the serving snapshot, chunk by chunk from Arrow buffers.

Why chunks: `build_pairs` over every user at once (1M users on the large preset) makes a pair
frame of tens of millions of rows x 30 columns, on top of pandas' user_interest (a numpy array
per user and list): many GB. Per chunk of users the pair frame stays small; only the flat
arrays the snapshot keeps (user row, category, score, last days, 30-day count, probability)
are concatenated. Per-user features and per-row predictions make the result identical to
scoring one frame of all users.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from configs import columns as C
from features.pairs import ARRAYS, build_pairs
from serving.fast_model import FastModel, unwrap
from serving.models import Champion, safe_predict
from serving.pair_matrix import PairInputs, chunk_pairs, prepare
from serving.snapshot import Long, long_from_pairs

log = logging.getLogger(__name__)

USER_CHUNK = 50_000  # users per pair frame: ~2M pairs, a few hundred MB
CHECK_USERS = 500  # users scored both ways before the fast path is trusted
PAIR_INPUTS = (C.USER_ID, *ARRAYS)  # the user_interest columns build_pairs reads


def position_index(ids: Sequence[str] | np.ndarray | pd.Series) -> pd.Series:
    """id -> row position, as the snapshot numbers users and categories (built once, and
    Series.map on it is a hash lookup, not a dict converted per call)."""
    keys = pd.Series(ids).astype(str).to_numpy(dtype=object)
    return pd.Series(np.arange(len(keys), dtype=np.int64), index=pd.Index(keys))


def as_arrow(interest: pd.DataFrame | pa.Table) -> pa.Table:
    """user_interest's PAIR_INPUTS as Arrow (Redis snapshots arrive as pandas)."""
    if isinstance(interest, pa.Table):
        return interest.select(list(PAIR_INPUTS))
    return pa.Table.from_pandas(interest[list(PAIR_INPUTS)], preserve_index=False)


def score_interest(
    champion: Champion,
    interest: pa.Table,
    category_stats: pd.DataFrame,
    activity: pd.DataFrame,
    n_popular: int,
    chunk_users: int = USER_CHUNK,
) -> tuple[Long, np.ndarray] | None:
    """(long pairs, probability per pair) for every user of INTEREST, numbered like
    build_snapshot numbers activity's users and category_stats' categories; None when the
    model cannot score these features (the snapshot then serves heuristics).

    The fast path (numpy pair arrays, the booster fed directly) is taken when the model and
    the inputs allow it and it reproduces the pipeline's scores on the first users."""
    fast = _fast_scorer(champion, interest, category_stats, activity, n_popular)
    scored = _score_fast(fast, interest, chunk_users) if fast is not None else None
    if scored is not None:
        return scored
    return _score_frames(champion, interest, category_stats, activity, n_popular, chunk_users)


def _concat(parts: list[tuple[np.ndarray, ...]]) -> tuple[Long, np.ndarray] | None:
    if not parts:
        return None
    row, col, scores, last, c30, prob = (np.concatenate(p) for p in zip(*parts, strict=True))
    known = np.ones(len(row), dtype=bool)
    return (known, row, col, scores, last, c30), prob


def _score_frames(
    champion: Champion,
    interest: pa.Table,
    category_stats: pd.DataFrame,
    activity: pd.DataFrame,
    n_popular: int,
    chunk_users: int,
) -> tuple[Long, np.ndarray] | None:
    """The general path: build_pairs frames through the model's own predict_proba."""
    user_pos = position_index(activity[C.USER_ID])
    cat_pos = position_index(category_stats[C.CATEGORY_ID])
    user_col = activity[C.USER_ID]
    parts: list[tuple[np.ndarray, ...]] = []
    for start in range(0, max(interest.num_rows, 1), chunk_users):
        block = interest.slice(start, chunk_users)
        ids = block.column(C.USER_ID).to_numpy(zero_copy_only=False)
        acts = activity[user_col.isin(ids)]
        pairs = build_pairs(block, category_stats, acts, n_popular)
        prob = safe_predict(champion, pairs)
        if prob is None:
            if not len(pairs):
                continue
            return None
        known, *arrays = long_from_pairs(pairs, user_pos, cat_pos)
        parts.append((*(a for a in arrays), np.asarray(prob, dtype=np.float32)[known]))
        del pairs, acts
    return _concat(parts)


class _Fast(NamedTuple):
    model: FastModel
    inputs: PairInputs
    encoded: dict[str, np.ndarray]


def _fast_scorer(
    champion: Champion,
    interest: pa.Table,
    category_stats: pd.DataFrame,
    activity: pd.DataFrame,
    n_popular: int,
) -> _Fast | None:
    """The fast path's model view and lookups, if it gives the pipeline's scores on a sample
    of users (CHECK_USERS); None otherwise (logged), and the frames path is used."""
    model = unwrap(champion.model)
    inputs = prepare(category_stats, activity, n_popular) if model is not None else None
    if model is None or inputs is None:
        return None
    fast = _Fast(model, inputs, model.encode_users(activity))
    sample = interest.slice(0, CHECK_USERS)
    got = _score_fast(fast, sample, CHECK_USERS)
    want = _score_frames(champion, sample, category_stats, activity, n_popular, CHECK_USERS)
    if got is None or want is None:
        return None
    (_, *g), gp = got
    (_, *w), wp = want
    same = all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(g, w, strict=True))
    if same and np.allclose(gp, wp, rtol=1e-6, atol=1e-7):
        return fast
    log.warning("fast interest scoring differs from the pipeline; scoring through pandas")
    return None


def _score_fast(
    fast: _Fast, interest: pa.Table, chunk_users: int
) -> tuple[Long, np.ndarray] | None:
    """Pair arrays per chunk, only pairs of known users and categories scored."""
    parts: list[tuple[np.ndarray, ...]] = []
    for start in range(0, interest.num_rows, chunk_users):
        chunk = chunk_pairs(interest.slice(start, chunk_users), fast.inputs)
        if chunk is None:
            return None
        known = np.flatnonzero((chunk.user >= 0) & (chunk.cat >= 0))
        if not len(known):
            continue
        user_row = chunk.user[known]
        columns = {name: values[known] for name, values in chunk.features.items()}
        columns.update({name: codes[user_row] for name, codes in fast.encoded.items()})
        prob = fast.model.predict(columns, len(known))
        del columns
        parts.append(
            (
                user_row,
                chunk.cat[known].astype(np.int32),
                chunk.interest_score[known],
                chunk.last_days[known],
                chunk.counts_30d[known],
                prob,
            )
        )
    return _concat(parts)
