"""The interest model's training pairs built through the array path (modelinput.pair_matrix).

Why: `build_pairs` assembles its frame column by column in pandas (joins, column inserts,
block consolidation, a float32 copy) and converts the Feast frame's per-user numpy arrays to
Arrow element by element; on the demo preset that was ~25 s of the main job for 4 snapshots.
Here the lists become Arrow with one concatenation per column, `pair_matrix.chunk_pairs`
computes the features on integer positions (the code serving scores with), and the frame is
built once. Same rows, order, values and dtypes as `build_pairs(rows, stats, rows, n)`
(tests); None when the inputs need the general path (repeated ids).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from configs import columns as C
from modelinput.pair_matrix import chunk_pairs, prepare
from modelinput.pairs import ARRAYS, PAIR_CATEGORICAL, PAIR_FEATURES, PAIR_KEYS


def list_column(values: pd.Series, kind: pa.DataType) -> pa.ListArray:
    """A pandas column of per-row arrays (or lists; None/NaN for missing) as one Arrow list
    array: the rows' values concatenated once, offsets from their lengths."""
    missing = values.isna().to_numpy()
    present = values.to_numpy(dtype=object)[~missing]
    lengths = np.zeros(len(values), dtype=np.int64)
    lengths[~missing] = np.fromiter((len(v) for v in present), dtype=np.int64, count=len(present))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    flat = np.concatenate([np.asarray(v) for v in present]) if len(present) else np.empty(0)
    if kind == pa.string():
        items = pa.array(np.asarray(flat, dtype=object), type=kind)
    else:
        items = pa.array(np.asarray(flat, dtype=np.float64), type=kind)
    mask = pa.array(missing) if missing.any() else None
    return pa.ListArray.from_arrays(pa.array(offsets), items, mask=mask)


def lists_table(rows: pd.DataFrame) -> pa.Table:
    """user_id + the user_interest list columns (ARRAYS) of a pandas frame, as Arrow."""
    columns = {C.USER_ID: pa.array(rows[C.USER_ID].astype(str).to_numpy(dtype=object))}
    for name in ARRAYS:
        kind = pa.string() if name == "interest_categories" else pa.float64()
        columns[name] = list_column(rows[name], kind)
    return pa.table(columns)


def training_pairs(
    rows: pd.DataFrame, category_stats: pd.DataFrame, n_popular: int
) -> pd.DataFrame | None:
    """build_pairs(rows, category_stats, rows, n_popular) through the array path: ROWS are
    one snapshot's INTEREST_SERVICE rows (the user_interest arrays and the user columns)."""
    inputs = prepare(category_stats, rows, n_popular)
    if inputs is None:
        return None
    block = lists_table(rows)
    chunk = chunk_pairs(block, inputs)
    if chunk is None:
        return None
    # chunk rows: every listed (user, category) first, then the added popular candidates
    flat = pc.list_flatten(block.column("interest_categories"))
    long_cats = flat.to_numpy(zero_copy_only=False).astype(object)
    added = inputs.cat_ids.take(pa.array(chunk.cat[len(long_cats) :]))
    cats = np.concatenate([long_cats, added.to_numpy(zero_copy_only=False).astype(object)])
    ids = rows[C.USER_ID].astype(str).to_numpy(dtype=object)
    out: dict[str, object] = {C.USER_ID: ids[chunk.user], C.CATEGORY_ID: cats}
    out.update({name: chunk.features[name] for name in PAIR_FEATURES})
    for col in PAIR_CATEGORICAL:
        out[col] = rows[col].to_numpy()[chunk.user] if col in rows.columns else None
    frame = pd.DataFrame(out)
    return frame[[*PAIR_KEYS, *PAIR_FEATURES, *PAIR_CATEGORICAL]]
