"""Every reason an empty or short push list gives in `warnings` (engine and handler).

Category k1 is slow-cycle (21 days): ann and ben bought it days ago (suppressed). Category k0 is
high-frequency: cat likes it; dan has no interest at all. Category k2 interests nobody.
Groups: ga (ann, ben), gb (cat, dan), gnone (no members), gz (zombie, only idle members).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from configs import columns as C
from configs.settings import ServingSettings, load_settings
from serving import engine
from serving.engine import push_list
from serving.handlers import push_lists
from serving.schemas import PushListRequest
from serving.snapshot import Snapshot, SnapshotInputs, build_snapshot
from serving.why import NO_GROUPS, ReasonTally, reason_key
from tests.serving.synthetic import AS_OF

TS = pd.Timestamp(AS_OF, tz="UTC")
NAN = float("nan")
CFG = ServingSettings()


def _tables(
    stock: dict[str, float] | None = None, slow: dict[str, int] | None = None
) -> dict[str, pd.DataFrame]:
    users = ["ann", "ben", "cat", "dan", "eve"]
    a = np.array
    products = {"s1": "k1", "s2": "k0", "s3": "k2", "h1": "k0", "h2": "k0", "h3": "k0"}
    stock = {"s1": NAN, "s2": 0.0, "s3": NAN, "h1": NAN, "h2": NAN, "h3": NAN, **(stock or {})}
    slow = {"s1": 1, "s2": 1, "s3": 1, "h1": 0, "h2": 0, "h3": 0, **(slow or {})}
    return {
        "user_activity": pd.DataFrame(
            {
                C.USER_ID: users,
                C.EVENT_TIMESTAMP: TS,
                "recency_days": [3.0, 5.0, 2.0, 40.0, 90.0],
                "order_days_30d": [3, 2, 4, 0, 0],
                "order_days_90d": [8, 6, 9, 1, 0],
                "tags": "",
            }
        ),
        "user_interest": pd.DataFrame(
            {
                C.USER_ID: ["ann", "ben", "cat"],
                "interest_categories": [a(["k1"]), a(["k1"]), a(["k0"])],
                "interest_scores": [a([1.0]), a([1.0]), a([1.0])],
                "last_days": [a([3.0]), a([5.0]), a([2.0])],
                "counts_30d": [a([1.0]), a([1.0]), a([4.0])],
                C.EVENT_TIMESTAMP: TS,
            }
        ),
        "category_stats": pd.DataFrame(
            {
                C.CATEGORY_ID: ["k0", "k1", "k2"],
                C.REPURCHASE_CYCLE_DAYS: [7.0, 21.0, 30.0],
                "is_high_frequency": [1, 0, 0],
            }
        ),
        "product_stats": pd.DataFrame(
            {
                C.PRODUCT_ID: list(products),
                C.CATEGORY_ID: list(products.values()),
                "price_band": 2,
                C.STOCK_QTY: [stock[p] for p in products],
                "is_slow_moving": [slow[p] for p in products],
            }
        ),
        "group_stats": pd.DataFrame(
            {
                C.GROUP_ID: ["ga", "gb", "gnone", "gz"],
                C.GROUP_TYPE: "consumer",
                C.STORE_ID: "s",
                "n_active_30d": [2, 1, 0, 0],
                "stage": ["mid", "mid", "early", "zombie"],
            }
        ),
    }


MEMBERS = pd.DataFrame(
    {C.GROUP_ID: ["ga", "ga", "gb", "gb", "gz"], C.USER_ID: ["ann", "ben", "cat", "dan", "eve"]}
)


def _snap(pushes: pd.DataFrame | None = None, **kwargs: dict[str, float]) -> Snapshot:
    return build_snapshot(
        _tables(**kwargs),  # type: ignore[arg-type]
        SnapshotInputs(push_cap_window_days=7, memberships=MEMBERS, pushes=pushes, as_of=AS_OF),
    )


def _warnings(snap: Snapshot, group: str, products: list[str] | None = None, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    cand = None if products is None else np.array([snap.prod_index[p] for p in products])
    return push_list(snap, snap.group_index[group], CFG, candidates=cand, **kw).warnings


def _keys(warnings: list[str]) -> set[str]:
    return {reason_key(w) for w in warnings}


def test_suppressed_for_recent_buyers_when_products_are_passed() -> None:
    snap = _snap()
    (w,) = _warnings(snap, "ga", ["s1"])
    assert w.startswith("suppressed for recent buyers: s1")


def test_no_member_signal_and_out_of_stock_products() -> None:
    snap = _snap()
    assert _warnings(snap, "gb", ["s3"]) == [
        "no member signal: no member bought or showed interest in the category of s3"
    ]
    assert _warnings(snap, "gb", ["s2"]) == ["out of stock: s2"]


def test_default_candidates_short_list_names_each_reason() -> None:
    snap = _snap()  # slow movers without stock rows (s1, s3) are candidates; s2 has stock 0
    assert sorted(snap.prod_ids[snap.default_candidates]) == ["s1", "s3"]
    keys = _keys(_warnings(snap, "ga"))
    assert keys == {"suppressed for recent buyers", "no member signal"}


def test_no_members_and_zombie_without_active_members() -> None:
    snap = _snap()
    assert _warnings(snap, "gnone") == [
        f"no members: the group has no memberships as of {AS_OF.isoformat()}"
    ]
    (w,) = _warnings(snap, "gz")
    assert w == "zombie group: no pushes, and no member ordered in 30 days"


def test_every_member_capped() -> None:
    pushes = pd.DataFrame(
        {
            C.GROUP_ID: "gb",
            C.USER_ID: ["cat"] * 3 + ["dan"] * 3,
            C.PUSHED_AT: TS - pd.Timedelta(days=1),
        }
    )
    snap = _snap(pushes, slow={"h1": 1})
    w = _warnings(snap, "gb", ["h1"])
    assert "push cap: 2 of 2 members reached the cap of 3 pushes per 7 days" in w[0]


def test_own_pushes_of_a_single_group_answer_count_towards_the_cap() -> None:
    snap = _snap(slow={"h1": 1, "h2": 1, "h3": 1})
    cfg = CFG.model_copy(update={"push_cap": 2})
    cand = np.array([snap.prod_index[p] for p in ("h1", "h2", "h3")])
    res = push_list(snap, snap.group_index["gb"], cfg, candidates=cand)  # used=None
    assert len(res.items) == 2  # cat, the only member with a signal, takes 2 pushes
    assert any(w.startswith("push cap: 1 of 2 members") for w in res.warnings)


def test_no_slow_movers_with_and_without_a_stock_feed() -> None:
    none_slow = {"s1": 0, "s2": 0, "s3": 0}
    snap = _snap(slow=none_slow)
    assert snap.stock_feed  # s2's stock row (0 units) is a feed
    no_feed = _snap(slow=none_slow, stock={"s2": NAN})
    assert not no_feed.stock_feed
    (w,) = _warnings(no_feed, "gb")
    assert w.startswith("no slow movers: no inventory feed, and no product sells below")
    (w,) = _warnings(snap, "gb")  # s2 has a stock row: a feed exists
    assert w.startswith("no slow movers: no product is overstocked or selling below")


def test_category_limit_and_deduplicated_warnings() -> None:
    snap = _snap(slow={"h1": 1, "h2": 1, "h3": 1})
    cfg = CFG.model_copy(update={"max_per_category": 1})
    cand = np.array([snap.prod_index[p] for p in ("h1", "h2", "h3")])
    res = push_list(snap, snap.group_index["gb"], cfg, candidates=cand)
    assert [it.product_id for it in res.items] == ["h1"]
    assert res.warnings == [
        "category limit: 2 more products of k0 left out (at most 1 per category)"
    ]
    assert len(set(res.warnings)) == len(res.warnings)


def test_full_list_does_not_compute_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    snap = _snap(slow={"h1": 1})

    def boom(*_args: object) -> list[str]:
        raise AssertionError("reasons computed for a full list")

    monkeypatch.setattr(engine, "short_list_reasons", boom)
    cand = np.array([snap.prod_index["h1"]])
    assert push_list(snap, snap.group_index["gb"], CFG, candidates=cand, top_k=1).items


def _answer(snap: Snapshot, **request: object) -> tuple[int, dict]:  # type: ignore[type-arg]
    settings = load_settings(overrides={"serving": {"stale_after_days": 100_000}})
    status, body = push_lists(snap, PushListRequest(**request), settings)  # type: ignore[arg-type]
    return status, json.loads(body) if isinstance(body, bytes) else body.model_dump()


def test_response_notes_the_missing_stock_feed_once_and_unknown_products() -> None:
    snap = _snap(stock={"s2": NAN})
    status, body = _answer(snap, group_ids=["ga", "gb"], product_ids=["s1", "nope"])
    assert status == 200
    assert [reason_key(w) for w in body["warnings"]] == ["no inventory feed"]
    assert body["unknown_product_ids"] == ["nope"]
    for group in body["groups"]:
        assert "unknown product_ids: nope" in group["warnings"]
    _, with_feed = _answer(_snap(), group_ids=["ga"])
    assert with_feed["warnings"] == []


def test_no_groups_in_the_data_is_a_clear_404() -> None:
    tables = _tables()
    tables["group_stats"] = tables["group_stats"].iloc[:0]
    snap = build_snapshot(
        tables, SnapshotInputs(push_cap_window_days=7, memberships=MEMBERS, as_of=AS_OF)
    )
    status, body = _answer(snap, group_ids=["ga"])
    assert status == 404 and body["error"] == NO_GROUPS


def test_reason_tally_counts_groups_per_reason() -> None:
    tally = ReasonTally()
    tally.add(["no slow movers: x", "push cap: 1 of 2"])
    tally.add(["no slow movers: y"])
    assert tally.lines() == ["2 of 2 groups: no slow movers: x", "1 of 2 groups: push cap: 1 of 2"]
    assert tally.legitimate()
    empty = ReasonTally()
    empty.add(["no members: none"])
    assert not empty.legitimate() and not ReasonTally().legitimate()
