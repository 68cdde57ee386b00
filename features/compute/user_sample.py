"""Fit samples that are a function of the user id, so every engine and partition agrees.

The population fits (renewal's centre / prior grid) use a sample of the users on large
populations. Drawing it by the users' global row numbers needs the whole population in one
process; hashing each id instead lets a Spark partition tell which of its users are in the
sample, and the DuckDB build picks the very same users (compute/spark_activity.py).
"""

from __future__ import annotations

from hashlib import blake2b

import numpy as np
import pyarrow as pa

_SALT = b"grouppush-fit"


def hash_units(user_ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each id's hash as a float in [0, 1) (blake2b: stable across processes and versions,
    unlike Python's salted hash())."""
    values = user_ids.to_pylist()
    out = np.empty(len(values))
    for i, value in enumerate(values):
        digest = blake2b(str(value).encode(), digest_size=8, key=_SALT).digest()
        out[i] = int.from_bytes(digest, "little") / 2.0**64
    return out


def in_sample(units: np.ndarray, population: int, size: int) -> np.ndarray:
    """Per user: in a sample of about SIZE of POPULATION users (all when POPULATION <= SIZE)."""
    if population <= size:
        return np.ones(units.size, dtype=bool)
    return np.asarray(units < size / population)
