"""Push-model pair features: point in time, the member's own interval, substitutes, group
adoption; the rule baselines and hits@5 that the promotion gate compares."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from configs import columns as C
from modelinput import push_pairs as pp
from training.push import hits_at_k, rule_scores

T = date(2025, 6, 1)


def _orders() -> pd.DataFrame:
    """u0 buys A every 10 days; u1 buys B (A's substitute: same buyers); u2 buys C only."""
    rows = []
    t0 = pd.Timestamp(T, tz="UTC")
    for k in range(1, 8):
        rows.append(("u0", "A", t0 - timedelta(days=10 * k - 5)))
    for k in range(1, 4):
        rows.append(("u1", "B", t0 - timedelta(days=20 * k)))
        rows.append(("u3", "A", t0 - timedelta(days=20 * k + 1)))
        rows.append(("u3", "B", t0 - timedelta(days=20 * k + 2)))
    rows.append(("u2", "C", t0 - timedelta(days=3)))
    frame = pd.DataFrame(rows, columns=[C.USER_ID, C.PRODUCT_ID, C.ORDERED_AT])
    frame[C.QUANTITY] = 1.0
    frame[C.AMOUNT] = 2.0
    frame[C.CATEGORY_ID] = np.where(frame[C.PRODUCT_ID] == "C", "k2", "k1")
    return frame


def _memberships() -> pd.DataFrame:
    return pd.DataFrame({C.GROUP_ID: ["g"] * 4, C.USER_ID: ["u0", "u1", "u2", "u3"]})


def _features(orders: pd.DataFrame, day: date) -> pd.DataFrame:
    h = pp.push_history(orders, day)
    members, _, sizes = pp.member_groups(_memberships(), h, day)
    targets = np.array([h.products.get_loc("A")])
    edges = pp.substitutes(h, targets)
    rows = members.assign(p=targets[0])
    f = pp.pair_features(h, rows, edges, pp.group_buyers(h, members, targets), sizes)
    f[C.USER_ID] = h.users[f.u.to_numpy()]
    return f.set_index(C.USER_ID)


def test_features_are_point_in_time() -> None:
    orders = _orders()
    before = _features(orders, T)
    # orders on or after T (the label window) must change nothing
    t0 = pd.Timestamp(T, tz="UTC")
    later = pd.DataFrame(
        {
            C.USER_ID: ["u0", "u1", "u2"],
            C.PRODUCT_ID: ["A", "A", "A"],
            C.ORDERED_AT: [t0, t0 + timedelta(hours=5), t0 + timedelta(days=3)],
            C.QUANTITY: 1.0,
            C.AMOUNT: 2.0,
            C.CATEGORY_ID: "k1",
        }
    )
    after = _features(pd.concat([orders, later], ignore_index=True), T)
    cols = list(pp.PUSH_FEATURES)
    pd.testing.assert_frame_equal(before[cols], after.loc[before.index, cols])
    # while moving the snapshot past them does see them
    moved = _features(pd.concat([orders, later], ignore_index=True), T + timedelta(days=4))
    assert moved.loc["u2", "p_days"] == 1 and moved.loc["u0", "p_days"] == 8


def test_own_interval_substitutes_and_adoption() -> None:
    f = _features(_orders(), T)
    u0 = f.loc["u0"]
    assert u0["p_days"] == 7 and u0["p_last_days"] == 5
    assert u0["p_gap_days"] == pytest.approx(10.0)
    assert u0["p_due"] == pytest.approx(0.5)
    # u1 never bought A but buys B, which A's buyers also buy
    assert f.loc["u1", "p_days"] == 0 and f.loc["u1", "sub_score"] > 0
    assert f.loc["u2", "sub_score"] == 0 and f.loc["u2", "c_days"] == 0
    # adoption counts the other members: u0 sees u3, u3 sees u0, u1 sees both
    assert f.loc["u0", "g_buyers"] == 1 and f.loc["u1", "g_buyers"] == 2
    assert f.loc["u1", "g_adoption"] == pytest.approx(2 / 3)


def test_rules_and_hits() -> None:
    frame = pd.DataFrame(
        {
            "g": [0] * 6,
            "p": [1] * 6,
            "p_d28": [3.0, 0, 0, 1.0, 0, 0],
            "c_d28": [0, 5.0, 4.0, 0, 0, 1.0],
            C.LABEL: [1, 0, 1, 0, 0, 1],
        }
    )
    scores = rule_scores(frame, [28.0])
    top2 = hits_at_k(frame, scores["product_then_category_hl28"], seed=0, k=2)
    assert top2["hits@2"] == 1  # p_d28 picks rows 0 and 3
    cat = hits_at_k(frame, scores["category_hl28"], seed=0, k=2)
    assert cat["hits@2"] == 1 and cat["recall@2"] == pytest.approx(1 / 3)


def test_recent_own_products_stay_warm_outside_the_targets() -> None:
    """A large catalog scores only the slow movers (targets); a product the member bought
    recently must still get an own warm entry, so campaign product_ids outside the slow-mover
    set are ranked by the push model rather than the category path."""
    from serving.push_scores import recent_own, score_warm_pairs

    orders = _orders()

    def predict(f: pd.DataFrame) -> np.ndarray:
        return np.asarray(0.01 + 0.1 * f["p_d56"] + 0.01 * f["sub_score"])

    def pairs(recent: int) -> set[tuple[str, str]]:
        scored = score_warm_pairs(
            orders, _memberships(), T, predict, pd.Index(["A"]), 1, recent_per_member=recent
        )
        return set(zip(scored["user_id"], scored["product_id"], strict=True))

    before = pairs(0)
    assert ("u2", "C") not in before and ("u0", "A") in before
    after = pairs(1)
    assert {("u2", "C"), ("u1", "B"), ("u0", "A")} <= after
    # u1's recent B (not a target) scores above their substitute entry for target A: B is
    # kept besides the cap of 1, not in it, so everyday products never evict target entries
    assert ("u1", "A") in before and ("u1", "A") in after
    # u3's most recent product is A (1 day before B)
    h = pp.push_history(orders, T)
    rec = recent_own(h.up, 1)
    got = set(zip(h.users[rec.u.to_numpy()], h.products[rec.p.to_numpy()], strict=True))
    assert got == {("u0", "A"), ("u1", "B"), ("u2", "C"), ("u3", "A")}


def test_push_rules_are_registrable_candidates() -> None:
    """Each rule is a predict_proba model over the pair features that ranks the members as
    the rule does, so the best rule can take `champion` when the learned model loses."""
    from training.baseline_models import push_candidates

    f = _features(_orders(), T)
    y = (f.index == "u0").astype(int)
    cands = push_candidates(f, y)
    rules = rule_scores(f, [28, 56, 112])
    assert set(cands) == set(rules)
    for name, model in cands.items():
        assert set(model.columns) <= set(pp.PUSH_FEATURES)
        prob = model.predict_proba(f[list(pp.PUSH_FEATURES)])[:, 1]
        order = np.argsort(-rules[name], kind="stable")
        assert np.all(np.diff(prob[order]) <= 1e-12), name  # the rule's order, as probabilities
        assert prob.min() >= 0 and prob.max() <= 1


def test_substitute_scores_of_some_pairs_equal_the_full_walk() -> None:
    rng = np.random.default_rng(3)
    rows = [
        (f"u{u}", f"P{p}", pd.Timestamp(T, tz="UTC") - timedelta(days=int(d)))
        for u, p, d in zip(
            rng.integers(0, 40, 600),
            rng.integers(0, 12, 600),
            rng.integers(1, 200, 600),
            strict=True,
        )
    ]
    orders = pd.DataFrame(rows, columns=[C.USER_ID, C.PRODUCT_ID, C.ORDERED_AT])
    orders[C.QUANTITY] = 1.0
    orders[C.CATEGORY_ID] = "k"
    h = pp.push_history(orders, T)
    edges = pp.substitutes(h, np.arange(len(h.products)), k=4)
    full = pp.substitute_scores(h, edges).set_index(["u", "p"]).sort_index()
    some = full.sample(n=len(full) // 3, random_state=1).reset_index()[["u", "p"]]
    some = pd.concat([some, pd.DataFrame({"u": [0], "p": [0]})])  # maybe no substitute bought
    part = pp.substitute_scores(h, edges, pairs=some).set_index(["u", "p"]).sort_index()
    assert set(part.index) <= set(map(tuple, some.to_numpy().tolist()))
    pd.testing.assert_frame_equal(part, full.loc[part.index])
    assert len(part) >= len(some) - 1
