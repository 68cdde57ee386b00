"""The default taxonomy: every tag fires on a user built for it and not on a near miss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from configs.settings import FeatureSettings
from features.compute.tags import evaluate_tags, load_taxonomy, tag_label, tag_names, taxonomy_path

TAGS = load_taxonomy(taxonomy_path(FeatureSettings()))
BASE: dict[str, Any] = {
    "recency_days": 10.0,
    "order_days_7d": 1,
    "order_days_30d": 2,
    "order_days_90d": 1,
    "order_days_180d": 4,
    "order_days_total": 6,
    "spend_30d": 20.0,
    "spend_180d": 10.0,
    "spend_total": 100.0,
    "units_30d": 4.0,
    "mean_gap_days": 40.0,
    "std_gap_days": 5.0,
    "tenure_days": 200.0,
    "has_first_order": 1,
    "has_second_order": 1,
    "trend_30_90": 1.0,
    "avg_basket_units": 2.0,
    "price_ratio": 1.0,
    "new_arrival_share": 0.0,
    "bestseller_share": 0.2,
    "n_categories_180d": 3,
    "replenishment_due": 0,
    "identity_type": "none",
    "channel": "none",
    "region": None,
    "group_id": "g1",
    "is_koc": 0,
    "renewal_p_order_alive": 0.2,
}
NEVER_ORDERED = {
    "has_first_order": 0,
    "has_second_order": 0,
    "order_days_total": 0,
    "order_days_180d": 0,
    "recency_days": np.nan,
    "mean_gap_days": np.nan,
}
# tag id -> (overrides that make a user have it, overrides of a near miss that must not)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "new_user_no_first_order": (
        {**NEVER_ORDERED, "tenure_days": 5.0},
        {**NEVER_ORDERED, "tenure_days": 60.0},
    ),
    "first_order_no_second": ({"has_second_order": 0, "order_days_total": 1}, {}),
    "next_month_repurchase_candidate": (  # regular, monthly rhythm, not yet past it, sure
        {"order_days_90d": 3, "mean_gap_days": 15.0, "renewal_p_order_alive": 0.9},
        {"order_days_90d": 3, "mean_gap_days": 15.0, "recency_days": 20.0},
    ),
    "churn_warning": (
        {"mean_gap_days": 10.0, "recency_days": 40.0},
        {"mean_gap_days": 10.0, "recency_days": 15.0},
    ),
    "dormant": ({"recency_days": 120.0}, {"recency_days": 60.0}),
    "high_value": ({"spend_180d": 10_000.0}, {"spend_180d": 0.5}),
    "replenishment_due": (  # a category is due and the user is past their own usual gap
        {"replenishment_due": 2, "mean_gap_days": 8.0},
        {"replenishment_due": 2},
    ),
    "new_arrival_lover": ({"new_arrival_share": 0.5}, {"new_arrival_share": 0.1}),
    "bestseller_follower": ({"bestseller_share": 0.8}, {}),
    "deal_seeker": ({"price_ratio": 0.7}, {"price_ratio": 1.1}),
    "bulk_buyer_b2b": (
        {"avg_basket_units": 50.0, "identity_type": "physical_store"},
        {"avg_basket_units": 50.0, "identity_type": "consumer"},  # a big household: no B2B
    ),
    "koc": ({"is_koc": 1}, {}),
    **{
        f"identity_{v}": ({"identity_type": v}, {})
        for v in ("consumer", "physical_store", "wechat_merchant", "online_shop")
    },
    **{
        f"channel_{v}": ({"channel": v}, {})
        for v in ("ground_push", "douyin", "app_store", "referral", "wechat_ad")
    },
    "region:north": ({"region": "north"}, {}),
}


def _evaluate(overrides: dict[str, Any]) -> list[str]:
    """Tags of one user among 20 ordinary ones (percentile rules need a population)."""
    filler = [
        {
            **BASE,
            "spend_180d": 1.0 + i,
            "avg_basket_units": 1.0 + i / 10,
            "bestseller_share": 0.3 + i / 100,
            "renewal_p_order_alive": 0.3 + i / 100,
        }
        for i in range(20)
    ]
    df = pd.DataFrame([*filler, {**BASE, **overrides}])
    return evaluate_tags(df, TAGS).iloc[-1].split(",")


@pytest.mark.parametrize("tag_id", sorted(CASES))
def test_default_tag_fires_only_when_built_for(tag_id: str) -> None:
    has, near_miss = CASES[tag_id]
    assert tag_id in _evaluate(has)
    assert tag_id not in _evaluate(near_miss)


def test_every_default_tag_has_a_case() -> None:
    ids = {t.id + (":north" if t.expand else "") for t in TAGS}
    assert ids == set(CASES)


def _write(tmp_path: Path, rule: str) -> Path:
    path = tmp_path / "tags.yaml"
    path.write_text(
        "tags:\n  - {id: broken_one, class: x, name_zh: 坏, name_en: Broken, scenario: s, "
        f"refresh: daily, rule: '{rule}'}}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("recency_days >", "syntax"),
        ("no_such_column > 1", "no_such_column"),
        ("recency_days + 1", "boolean"),
    ],
)
def test_broken_rule_fails_naming_the_tag(tmp_path: Path, rule: str, problem: str) -> None:
    with pytest.raises(ValueError, match=f"broken_one.*{problem}"):
        load_taxonomy(_write(tmp_path, rule))


def test_tag_names_cover_generated_region_tags() -> None:
    names = tag_names(TAGS, pd.DataFrame({"region": ["north", None]}))
    assert names["churn_warning"] == "Churn warning"
    assert names["region:north"] == "Region: north"
    assert tag_label("region:south", tag_names(TAGS)) == "Region: south"


@pytest.mark.parametrize("value", ["unknown", "Unknown", "UNK", "n/a", " ", "", None, "未知"])
def test_unknown_profile_value_gives_no_tag(value: object) -> None:
    tags = _evaluate({"region": value, "identity_type": value, "channel": value})
    assert not [t for t in tags if t.startswith(("region", "identity_", "channel_"))]
    assert "region:north" in _evaluate({"region": "north"})  # a known value still does


@pytest.mark.parametrize(
    ("identity", "has"),
    [("physical_store", True), ("online_shop", True), ("consumer", False), (None, False)],
)
def test_b2b_tag_needs_a_b2b_identity(identity: str | None, has: bool) -> None:
    tags = _evaluate({"avg_basket_units": 500.0, "identity_type": identity})
    assert ("bulk_buyer_b2b" in tags) is has


def test_audience_is_checked_at_load(tmp_path: Path) -> None:
    path = tmp_path / "tags.yaml"
    path.write_text(
        "tags:\n  - {id: t, class: x, name_zh: t, name_en: t, scenario: s, refresh: daily, "
        "rule: 'is_koc == 1', audience: resellers}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="'t'.*audience"):
        load_taxonomy(path)


def test_summary_warns_for_tags_firing_for_most_or_none() -> None:
    from features.compute.tag_summary import summary_lines, tag_summary

    n = 40
    users = pd.DataFrame([{**BASE, "spend_180d": float(i)} for i in range(n)])
    users.loc[: n * 3 // 4, "replenishment_due"] = 3
    users.loc[: n * 3 // 4, "mean_gap_days"] = 6.0  # 31 of 40 past their own gap: 78%
    users["identity_type"] = None
    users["channel"] = "unknown"
    users.loc[0, "region"] = "north"
    users["tags"] = evaluate_tags(users, TAGS)
    summary = tag_summary(users, TAGS)
    assert summary["shares"]["replenishment_due"] == pytest.approx(31 / n)
    assert summary["shares"]["region:north"] == pytest.approx(1 / n)
    assert summary["shares"]["koc"] == 0.0
    text = "\n".join(summary_lines(summary, "2025-06-30"))
    assert "replenishment_due fires for 78% of 40 users (more than 50%)" in text
    assert "koc fires for no user" in text
    # a column nobody has explains its tags once, instead of a zero per tag
    assert "no channel known for any user: channel_ground_push, channel_douyin" in text
    assert "no identity_type known for any user: bulk_buyer_b2b, identity_consumer" in text
    assert "channel_douyin fires for no user" not in text
    assert "high_value fires" not in text  # 10%: no warning


def test_build_summary_prints_tag_shares_and_warnings() -> None:
    from grouppush.summaries import build_lines

    tags = {
        "users": 10,
        "shares": {"dormant": 0.6, "koc": 0.0},
        "warnings": ["koc fires for no user"],
    }
    lines = build_lines({"as_of": "2026-01-01", "dates": [], "computed": [], "tags": tags})
    assert "tags (10 users): dormant 60.0%" in lines
    assert "warning: koc fires for no user" in lines
    assert not any(line.startswith("tags: {") for line in lines)
