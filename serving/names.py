"""Product and category names on the serving snapshot, for answers, reasons and exports.

Names are optional contract columns of the products table (features/contract/schema.py): a
name missing there stays null in answers, and every sentence falls back to the id. The snapshot
holds them as object arrays aligned with its product and category ids (None: no name), built
once at load; the strings are shared with the table's column (200k products: tens of MB, in
the pickled part of a stored snapshot, never per request).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa

from configs import columns as C
from serving.snapshot import Snapshot

Indices = Sequence[int] | np.ndarray


def _aligned(ids: np.ndarray, keys: pd.Series, names: pd.Series) -> np.ndarray | None:
    """NAMES looked up by KEYS for each of IDS (object, None where absent); None: no name."""
    known = pd.DataFrame({"k": keys.astype(str), "n": names.astype("string").str.strip()})
    known = known[known["n"].notna() & (known["n"] != "")]  # blank: no name (ingest trims)
    if known.empty:
        return None
    lookup = known.drop_duplicates("k").set_index("k")["n"].astype(object)
    out = pd.Series(ids, dtype=object).map(lookup).to_numpy(dtype=object)
    out[pd.isna(out)] = None
    return out


def with_names(snap: Snapshot, products: pd.DataFrame | pa.Table | None) -> Snapshot:
    """SNAP with prod_names / cat_names from PRODUCTS (the products table, or its name
    columns); unchanged when it has none. A category's name is the first one given for it."""
    if isinstance(products, pa.Table):
        products = products.to_pandas()
    if products is None or C.PRODUCT_ID not in products.columns:
        return snap
    prod = cat = None
    if C.PRODUCT_NAME in products.columns:
        prod = _aligned(snap.prod_ids, products[C.PRODUCT_ID], products[C.PRODUCT_NAME])
    if C.CATEGORY_NAME in products.columns and C.CATEGORY_ID in products.columns:
        cat = _aligned(snap.cat_ids, products[C.CATEGORY_ID], products[C.CATEGORY_NAME])
    elif C.CATEGORY_ID not in products.columns and C.PRODUCT_NAME in products.columns:
        # no category_id: each product is its own category (DESIGN section 3), named as it
        cat = _aligned(snap.cat_ids, products[C.PRODUCT_ID], products[C.PRODUCT_NAME])
    if prod is None and cat is None:
        return snap
    return replace(snap, prod_names=prod, cat_names=cat)


def _labels(ids: np.ndarray, names: np.ndarray | None, idx: Indices) -> list[str]:
    pos = np.asarray(idx, dtype=np.int64)
    got = ids[pos].tolist()
    if names is None:
        return [str(i) for i in got]
    return [str(i) if n is None else n for n, i in zip(names[pos].tolist(), got, strict=True)]


def _names(names: np.ndarray | None, idx: Indices) -> list[str | None]:
    if names is None:
        return [None] * len(idx)
    return names[np.asarray(idx, dtype=np.int64)].tolist()


def product_labels(snap: Snapshot, idx: Indices) -> list[str]:
    """How sentences name the products at IDX: their names, else their ids."""
    return _labels(snap.prod_ids, snap.prod_names, idx)


def category_labels(snap: Snapshot, idx: Indices) -> list[str]:
    """How sentences name the categories at IDX: their names, else their ids."""
    return _labels(snap.cat_ids, snap.cat_names, idx)


def product_names(snap: Snapshot, idx: Indices) -> list[str | None]:
    """The names of the products at IDX (None: none given): the answers' name fields."""
    return _names(snap.prod_names, idx)


def category_names(snap: Snapshot, idx: Indices) -> list[str | None]:
    """The names of the categories at IDX (None: none given)."""
    return _names(snap.cat_names, idx)
