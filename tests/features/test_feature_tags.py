"""The default taxonomy: every tag fires on a user built for it and not on a near miss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from configs.settings import FeatureSettings
from features.tags import evaluate_tags, load_taxonomy, tag_label, tag_names, taxonomy_path

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
    "next_month_repurchase_candidate": (
        {"order_days_90d": 3, "mean_gap_days": 15.0},
        {"order_days_90d": 3, "mean_gap_days": 15.0, "recency_days": 80.0},
    ),
    "churn_warning": (
        {"mean_gap_days": 10.0, "recency_days": 40.0},
        {"mean_gap_days": 10.0, "recency_days": 15.0},
    ),
    "dormant": ({"recency_days": 120.0}, {"recency_days": 60.0}),
    "high_value": ({"spend_180d": 10_000.0}, {"spend_180d": 0.5}),
    "replenishment_due": ({"replenishment_due": 2}, {}),
    "new_arrival_lover": ({"new_arrival_share": 0.5}, {"new_arrival_share": 0.1}),
    "bestseller_follower": ({"bestseller_share": 0.8}, {}),
    "deal_seeker": ({"price_ratio": 0.7}, {"price_ratio": 1.1}),
    "bulk_buyer_b2b": ({"avg_basket_units": 50.0}, {"avg_basket_units": 1.0}),
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
    filler = [{**BASE, "spend_180d": 1.0 + i, "avg_basket_units": 1.0 + i / 10} for i in range(20)]
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
