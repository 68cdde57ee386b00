"""The interest champion's scores for the serving snapshot, chunk by chunk from Arrow buffers.

Why chunks: `build_pairs` over every user at once (1M users on the large preset) makes a pair
frame of tens of millions of rows x 30 columns, on top of pandas' user_interest (a numpy array
per user and list): many GB. Per chunk of users the pair frame stays small; only the flat
arrays the snapshot keeps (user row, category, score, last days, 30-day count, probability)
are concatenated. Per-user features and per-row predictions make the result identical to
scoring one frame of all users.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from configs import columns as C
from modelinput.pair_matrix import PairInputs, chunk_pairs, prepare
from modelinput.pairs import ARRAYS, build_pairs
from serving.fast_model import FastModel, unwrap
from serving.interest_csr import Long, LongChunk, long_from_pairs
from serving.models import Champion, safe_predict

log = logging.getLogger(__name__)

USER_CHUNK = 20_000  # users per pair block: ~0.8M pairs, ~0.4 GB of temporaries (start-up peak)
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


class Unscorable(Exception):
    """The champion cannot score these pairs: the snapshot serves heuristic interest."""


class FastRefused(Exception):
    """A later block needs the pipeline (repeated user ids) after fast blocks were yielded:
    start again with fast_path=False, as one pipeline pass scored everything before."""


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
    model cannot score these features (the snapshot then serves heuristics)."""
    sample = interest.slice(0, CHECK_USERS)

    def scores(fast_path: bool) -> list[LongChunk]:
        blocks = (interest.slice(s, chunk_users) for s in range(0, interest.num_rows, chunk_users))
        args = (champion, blocks, category_stats, activity, n_popular, sample)
        return list(iter_scores(*args, fast_path=fast_path))

    try:
        try:
            parts = scores(True)
        except FastRefused:
            parts = scores(False)
    except Unscorable:
        return None
    return _concat(parts)  # type: ignore[arg-type]


def iter_scores(
    champion: Champion,
    blocks: Iterable[pa.Table],
    category_stats: pd.DataFrame,
    activity: pd.DataFrame,
    n_popular: int,
    sample: pa.Table | None = None,
    *,
    fast_path: bool = True,
) -> Iterator[LongChunk]:
    """score_interest one block of users at a time, one chunk per block (what
    serving.interest_csr streams: every user's pairs are never held at once). Raises
    Unscorable, or FastRefused (then call again with FAST_PATH false).

    The fast path (numpy pair arrays, the booster fed directly) is taken when the model and
    the inputs allow it and it reproduces the pipeline's scores on SAMPLE (default: the
    first users of the first block)."""
    stream = iter(blocks)
    first = next(stream, None)
    if first is None:
        return
    if sample is None:
        sample = first.slice(0, CHECK_USERS)
    fast = (
        _fast_scorer(champion, sample, category_stats, activity, n_popular) if fast_path else None
    )
    positions = None
    yielded = False
    for block in itertools.chain([first], stream):
        parts = _fast_parts(fast, block) if fast is not None else None
        if parts is None:
            if fast is not None and yielded:
                raise FastRefused
            fast = None
            positions = positions or _positions(category_stats, activity)
            parts = _frame_parts(champion, block, category_stats, activity, n_popular, positions)
        for part in parts:
            yielded = True
            yield part


def _concat(parts: list[tuple[np.ndarray, ...]]) -> tuple[Long, np.ndarray] | None:
    if not parts:
        return None
    row, col, scores, last, c30, prob = (np.concatenate(p) for p in zip(*parts, strict=True))
    known = np.ones(len(row), dtype=bool)
    return (known, row, col, scores, last, c30), prob


def _positions(category_stats: pd.DataFrame, activity: pd.DataFrame) -> tuple[pd.Series, ...]:
    return position_index(activity[C.USER_ID]), position_index(category_stats[C.CATEGORY_ID])


def _score_frames(
    champion: Champion,
    interest: pa.Table,
    category_stats: pd.DataFrame,
    activity: pd.DataFrame,
    n_popular: int,
    chunk_users: int = USER_CHUNK,
) -> tuple[Long, np.ndarray] | None:
    """The general path over all of INTEREST, CHUNK_USERS at a time (raises Unscorable)."""
    positions = _positions(category_stats, activity)
    parts: list[LongChunk] = []
    for start in range(0, max(interest.num_rows, 1), chunk_users):
        block = interest.slice(start, chunk_users)
        parts += _frame_parts(champion, block, category_stats, activity, n_popular, positions)
    return _concat(parts)  # type: ignore[arg-type]


def _frame_parts(
    champion: Champion,
    block: pa.Table,
    category_stats: pd.DataFrame,
    activity: pd.DataFrame,
    n_popular: int,
    positions: tuple[pd.Series, ...],
) -> list[LongChunk]:
    """The general path: a build_pairs frame through the model's own predict_proba."""
    user_pos, cat_pos = positions
    ids = block.column(C.USER_ID).to_numpy(zero_copy_only=False)
    acts = activity[activity[C.USER_ID].isin(ids)]
    pairs = build_pairs(block, category_stats, acts, n_popular)
    prob = safe_predict(champion, pairs)
    if prob is None:
        if not len(pairs):
            return []
        raise Unscorable(champion.name)
    known, *arrays = long_from_pairs(pairs, user_pos, cat_pos)
    return [(*arrays, np.asarray(prob, dtype=np.float32)[known])]  # type: ignore[list-item]


class _Fast(NamedTuple):
    model: FastModel
    inputs: PairInputs
    encoded: dict[str, np.ndarray]


def _fast_scorer(
    champion: Champion,
    sample: pa.Table,
    category_stats: pd.DataFrame,
    activity: pd.DataFrame,
    n_popular: int,
) -> _Fast | None:
    """The fast path's model view and lookups, if it gives the pipeline's scores on SAMPLE
    (the first CHECK_USERS users); None otherwise (logged), and the frames path is used."""
    model = unwrap(champion.model)
    inputs = prepare(category_stats, activity, n_popular) if model is not None else None
    if model is None or inputs is None:
        return None
    fast = _Fast(model, inputs, model.encode_users(activity))
    got = _score_fast(fast, sample, CHECK_USERS)
    try:
        want = _score_frames(champion, sample, category_stats, activity, n_popular)
    except Unscorable:
        return None
    if got is None or want is None:
        return None
    (_, *g), gp = got
    (_, *w), wp = want
    same = all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(g, w, strict=True))
    if same and np.allclose(gp, wp, rtol=1e-6, atol=1e-7):
        return fast
    log.warning("fast interest scoring differs from the pipeline; scoring through pandas")
    return None


def _fast_parts(fast: _Fast, block: pa.Table) -> list[LongChunk] | None:
    """BLOCK's pairs as arrays, only pairs of known users and categories scored; None when
    the block needs the pipeline (repeated user ids)."""
    chunk = chunk_pairs(block, fast.inputs)
    if chunk is None:
        return None
    known = np.flatnonzero((chunk.user >= 0) & (chunk.cat >= 0))
    if not len(known):
        return []
    user_row = chunk.user[known]
    columns = {name: values[known] for name, values in chunk.features.items()}
    columns.update({name: codes[user_row] for name, codes in fast.encoded.items()})
    prob = fast.model.predict(columns, len(known))
    del columns
    cat = chunk.cat[known].astype(np.int32)
    scores, last, c30 = chunk.interest_score[known], chunk.last_days[known], chunk.counts_30d[known]
    del chunk
    return [(user_row, cat, scores, last, c30, prob)]


def _score_fast(
    fast: _Fast, interest: pa.Table, chunk_users: int
) -> tuple[Long, np.ndarray] | None:
    """_fast_parts over INTEREST, CHUNK_USERS at a time; None when a chunk refuses."""
    parts: list[LongChunk] = []
    for start in range(0, interest.num_rows, chunk_users):
        got = _fast_parts(fast, interest.slice(start, chunk_users))
        if got is None:
            return None
        parts += got
    return _concat(parts)  # type: ignore[arg-type]
