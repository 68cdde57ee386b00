"""The one gather the engine's per-user CSRs share (interest rows, push entries, rule 1)."""

from __future__ import annotations

import numpy as np


def row_entries(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(position in `rows`, CSR entry index) for every stored entry of the given rows, and
    the number of entries of each row."""
    starts = indptr[rows]
    lens = indptr[rows + 1] - starts
    offsets = np.cumsum(lens) - lens
    entries = np.arange(int(lens.sum()), dtype=np.int64) + np.repeat(starts - offsets, lens)
    return np.repeat(np.arange(len(rows), dtype=np.int64), lens), entries, lens
