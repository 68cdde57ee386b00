"""What the Spark executors rely on (features/compute/spark_interest.py): user_interest computed
one user partition at a time, each partition its own purchase log, with the similarity from
the summed per-partition co-buyer grams, equals the whole-log computation bit for bit."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from features.compute.compute_interest import (
    category_similarity,
    co_buyer_gram,
    compute_user_interest,
    similarity_from_gram,
)
from features.compute.interest_inputs import PurchaseDays, purchase_days_from_rows, run_stats
from tests.features.compute.test_interest_fast_paths import _cfg, _random_log


def _partition(log: PurchaseDays, keep: np.ndarray) -> PurchaseDays:
    """The rows of the users where KEEP is true, renumbered as an executor's log."""
    row_user = log.run_user[log.run]
    rows = keep[row_user]
    users = np.flatnonzero(keep)
    local = np.full(len(log.users), -1)
    local[users] = np.arange(users.size)
    data = {
        "u": local[row_user[rows]],
        "c": log.run_cat[log.run[rows]],
        "d": log.day[rows],
        "w": log.w[rows],
    }
    return purchase_days_from_rows(
        log.users.take(pa.array(users)), log.categories, data, log.half_life_days
    )


@pytest.mark.parametrize("as_of", [date(2025, 3, 1), date(2025, 10, 1)])
def test_partitioned_interest_equals_the_whole_log(as_of: date) -> None:
    cfg = _cfg()
    log = _random_log(7, 300, 11, 5000)
    whole, sim = compute_user_interest(None, as_of, cfg, log)  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    owner = rng.integers(0, 3, len(log.users))  # three partitions of scattered users
    parts = [_partition(log, owner == p) for p in range(3)]
    stats = [run_stats(p, as_of, cfg.half_life_days) for p in parts]
    gram = sum(co_buyer_gram(s, p) for s, p in zip(stats, parts, strict=True))
    full_stats = run_stats(log, as_of, cfg.half_life_days)
    np.testing.assert_array_equal(gram, co_buyer_gram(full_stats, log))
    summed = similarity_from_gram(np.asarray(gram), log.categories, cfg)
    reference = category_similarity(full_stats, log, cfg)
    assert (summed.raw != reference.raw).nnz == 0 and (summed.spread != sim.spread).nnz == 0
    tables = [
        compute_user_interest(None, as_of, cfg, p, s, summed)[0]  # type: ignore[arg-type]
        for p, s in zip(parts, stats, strict=True)
    ]
    got = pa.concat_tables(tables).sort_by("user_id")
    assert got.num_rows == whole.num_rows > 0
    assert got.equals(whole.sort_by("user_id"))
