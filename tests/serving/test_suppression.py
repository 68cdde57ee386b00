"""Rule 1 at the product level: cycles, the high-frequency exemption, the blocked CSR."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from configs import columns as C
from serving.suppression import blocked_pairs, day_gaps, product_cycles, recent_buys

AS_OF = date(2025, 3, 1)
T = pd.Timestamp(AS_OF, tz="UTC")
PRODUCTS = {"weekly": 0, "rare": 1, "given": 2}
USERS = {"ann": 0, "bo": 1, "cy": 2}


def _orders(lines: list[tuple[str, str, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(lines, columns=[C.USER_ID, C.PRODUCT_ID, "days"])
    frame[C.ORDERED_AT] = T - pd.to_timedelta(frame.pop("days"), unit="D")
    return frame


def test_a_product_rebought_weekly_is_high_frequency_in_a_slow_category() -> None:
    weekly = [("bo", "weekly", d) for d in (3, 10, 17, 24, 31)]
    orders = _orders([*weekly, ("ann", "rare", 5), ("ann", "rare", 60), ("cy", "given", 4)])
    cat_cycle = np.array([30.0, 30.0, 30.0])  # one slow category
    given = np.array([np.nan, np.nan, 3.0])  # the products table says "given" is a 3-day item
    cycle, high = product_cycles(day_gaps(orders), PRODUCTS, cat_cycle, 14.0, given)
    assert cycle.tolist() == [30.0, 30.0, 3.0]
    assert high.tolist() == [True, False, True]
    indptr, indices = recent_buys(orders, AS_OF, USERS, PRODUCTS, cycle, high)
    # only ann's rare product (5 days ago, 30-day cycle) is blocked
    assert indptr.tolist() == [0, 1, 1, 1] and indices.tolist() == [1]
    # older than the cycle: nothing blocked
    old = _orders([("ann", "rare", 45)])
    assert len(recent_buys(old, AS_OF, USERS, PRODUCTS, cycle, high)[1]) == 0


def test_unknown_cycle_blocks_nothing_and_unknown_ids_are_skipped() -> None:
    orders = _orders([("ann", "rare", 1), ("zed", "rare", 1), ("ann", "nope", 1)])
    cycle, high = product_cycles(day_gaps(orders), PRODUCTS, np.full(3, np.nan), 14.0)
    assert len(recent_buys(orders, AS_OF, USERS, PRODUCTS, cycle, high)[1]) == 0
    cycle = np.array([np.nan, 30.0, np.nan])
    indptr, indices = recent_buys(orders, AS_OF, USERS, PRODUCTS, cycle, np.zeros(3, bool))
    assert indices.tolist() == [1] and indptr[-1] == 1


def test_blocked_pairs_follow_the_requests_members_and_candidates() -> None:
    indptr = np.array([0, 2, 2, 3])  # user 0 blocks products 1 and 2; user 2 blocks 1
    indices = np.array([1, 2, 1], dtype=np.int32)
    members, cand = np.array([2, 0]), np.array([1, 0])  # members in request order
    b = blocked_pairs(indptr, indices, members, cand, 3)
    assert b.ptr.tolist() == [0, 2, 2]  # candidate 1 (product 1): both; product 0: none
    assert sorted(b.member.tolist()) == [0, 1]


def test_a_member_due_by_their_own_rhythm_is_not_blocked() -> None:
    """ "Its cycle" is the member's own when they have one: bo buys "rare" every ~8 days and
    last did 9 days ago (due); ann bought it 9 days ago once (blocked for the 30-day cycle)."""
    orders = _orders([("bo", "rare", d) for d in (9, 17, 25, 33)] + [("ann", "rare", 9)])
    gaps = day_gaps(orders)
    cycle, high = np.array([30.0, 30.0, 30.0]), np.zeros(3, bool)
    indptr, indices = recent_buys(orders, AS_OF, USERS, PRODUCTS, cycle, high, gaps)
    assert indptr.tolist() == [0, 1, 1, 1] and indices.tolist() == [1]
    indptr, _ = recent_buys(orders, AS_OF, USERS, PRODUCTS, cycle, high)  # without the gaps
    assert indptr.tolist() == [0, 1, 2, 2]


def test_the_coded_log_gives_the_same_cycles_and_blocks_as_the_string_frame() -> None:
    """The snapshot build reads the integer-coded log (modelinput.push_log); its codes follow
    sorted ids, the frame's its first appearance: rule 1 must not depend on either."""
    from modelinput.push_log import code_orders

    rng = np.random.default_rng(5)
    users, prods = ["cy", "ann", "zed", "bo"], ["rare", "weekly", "nope", "given"]
    lines = [
        (users[u], prods[p], int(d))
        for u, p, d in zip(
            rng.integers(0, 4, 80), rng.integers(0, 4, 80), rng.integers(0, 60, 80), strict=True
        )
    ]
    frame = _orders(lines)
    frame[C.CATEGORY_ID], frame[C.QUANTITY] = "c", 1.0
    log = code_orders(frame)
    cat_cycle = np.array([20.0, 20.0, 20.0])
    for orders in (frame, log):
        gaps = day_gaps(orders)
        cycle, high = product_cycles(gaps, PRODUCTS, cat_cycle, 2.0)
        got = recent_buys(orders, AS_OF, USERS, PRODUCTS, cycle, high, gaps)
        if orders is frame:
            want = cycle, high, got
        else:
            assert np.array_equal(cycle, want[0]) and np.array_equal(high, want[1])
            assert np.array_equal(got[0], want[2][0]) and np.array_equal(got[1], want[2][1])
    assert 0 < len(want[2][1]) < len(lines)  # some pairs blocked, not all
