"""Every offline feature table and feature: name, type, unit and meaning, in one place.

The feature build writes exactly these columns (plus the entity key and `event_timestamp`, the
as-of date at 00:00 UTC: a value as of t uses only orders strictly before t). The Feast
definitions, training and the serving snapshot all read their column lists from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from configs import columns as C

DType = Literal["float", "int", "str", "float_array", "str_array"]


@dataclass(frozen=True)
class Feature:
    name: str
    dtype: DType
    unit: str
    meaning: str


@dataclass(frozen=True)
class FeatureTable:
    name: str
    entity: str  # join key column
    features: tuple[Feature, ...]
    doc: str

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def numeric(self) -> list[str]:
        return [f.name for f in self.features if f.dtype in ("float", "int")]


F = Feature

USER_ACTIVITY = FeatureTable(
    "user_activity",
    C.USER_ID,
    (
        F(
            "recency_days",
            "float",
            "days",
            "days since the last order before t (NaN: none)",
        ),
        F("order_days_7d", "int", "days", "distinct days with an order in [t-7d, t)"),
        F("order_days_30d", "int", "days", "distinct days with an order in [t-30d, t)"),
        F("order_days_90d", "int", "days", "distinct days with an order in [t-90d, t)"),
        F("order_days_180d", "int", "days", "distinct days with an order in [t-180d, t)"),
        F("order_days_total", "int", "days", "distinct order days before t"),
        F("spend_30d", "float", "currency", "amount spent in [t-30d, t)"),
        F("spend_180d", "float", "currency", "amount spent in [t-180d, t)"),
        F("spend_total", "float", "currency", "amount spent before t"),
        F("units_30d", "float", "units", "quantity bought in [t-30d, t)"),
        F("mean_gap_days", "float", "days", "mean gap between consecutive order days (NaN: < 2)"),
        F("std_gap_days", "float", "days", "std of the gap between consecutive order days"),
        F("tenure_days", "float", "days", "days since registration (or first order when unknown)"),
        F("has_first_order", "int", "flag", "1 when the user ordered at least once before t"),
        F("has_second_order", "int", "flag", "1 when the user ordered on at least two days"),
        F(
            "trend_30_90",
            "float",
            "ratio",
            "order_days_30d / (order_days_90d / 3); >1 = faster",
        ),
        F("avg_basket_units", "float", "units", "units per order day, last 180 days"),
        F("price_ratio", "float", "ratio", "mean unit price paid / category median unit price"),
        F("new_arrival_share", "float", "share", "units of products launched < 30 days earlier"),
        F("bestseller_share", "float", "share", "units of products in their category's top 10%"),
        F("n_categories_180d", "int", "count", "distinct categories bought in 180 days"),
        F("replenishment_due", "int", "count", "categories whose repurchase cycle has come round"),
        F(
            "readiness_sum",
            "float",
            "order-days",
            "sum over bought categories of 180-day order days * min(days since last / cycle, 2)",
        ),
        F(
            "mean_readiness",
            "float",
            "ratio",
            "readiness_sum / the 180-day order days it weights: mean cycle progress, 0..2",
        ),
        F(
            "max_readiness",
            "float",
            "ratio",
            "max over categories bought on >= 2 days in 180 of min(days since last / cycle, 2)",
        ),
        F(
            "due_in_horizon",
            "float",
            "order-days",
            "180-day order days of the categories whose cycle comes round before t + horizon",
        ),
        F(
            "expected_orders_horizon",
            "float",
            "orders",
            "sum over categories of horizon * 180-day category order rate * min(1, (days "
            "since last + horizon / 2) / cycle): category orders expected in the horizon",
        ),
        F(
            "days_to_next_due",
            "float",
            "days",
            "min over categories bought on >= 2 days in 180 of cycle - days since last "
            "(< 0: overdue)",
        ),
        F(
            "population_p_alive",
            "float",
            "probability",
            "BG/NBD P(alive), fitted on every user's order days before t (NaN: no order)",
        ),
        F(
            "population_p_order",
            "float",
            "probability",
            "BG/NBD P(>= 1 order in the horizon), fitted on every user's history before t",
        ),
        F(
            "renewal_expected_horizon",
            "float",
            "orders",
            "category purchases expected in the horizon if still active: sum over bought "
            "categories of the user's shrunk rate * the recency-vs-cycle ramp (compute_renewal)",
        ),
        F(
            "renewal_p_order",
            "float",
            "probability",
            "1 - exp(-renewal_expected_horizon): P(>= 1 category purchase in the horizon)",
        ),
        F(
            "renewal_max_p_category",
            "float",
            "probability",
            "max over bought categories of P(rebuying that category in the horizon)",
        ),
        F(
            "renewal_silence_expected",
            "float",
            "orders",
            "category purchases the renewal model expected since the user's last order day",
        ),
        F(
            "renewal_p_alive",
            "float",
            "probability",
            "P(still buying | that silence): active vs stopped at a uniform time in the silence",
        ),
        F(
            "renewal_p_order_alive",
            "float",
            "probability",
            "renewal_p_order * renewal_p_alive",
        ),
        F(
            "renewal_recent_ratio",
            "float",
            "ratio",
            "purchases in the last 60 days / the renewal model's expectation there (shrunk to 1)",
        ),
        F(
            "renewal_expected_recent",
            "float",
            "orders",
            "renewal_expected_horizon * renewal_recent_ratio: the horizon at the recent pace",
        ),
        F(
            "group_trend_30_90",
            "float",
            "ratio",
            "the user's group: member order days in 30 days / (in 90 days / 3); >1 = faster",
        ),
        F(
            "group_active_share_30d",
            "float",
            "share",
            "the user's group: members ordering in 30 days / members ordering in 180 days",
        ),
        F(
            "identity_type",
            "str",
            "enum",
            "consumer / physical_store / wechat_merchant / online_shop",
        ),
        F("channel", "str", "enum", "acquisition channel"),
        F("region", "str", "enum", "region"),
        F("group_id", "str", "id", "the user's primary group (most orders; else membership)"),
        F("is_koc", "int", "flag", "1 when the user's membership role is koc"),
        F("tags", "str", "ids", "comma-separated rule-based tag ids (configs/tags.yaml)"),
    ),
    "Per-user activity, spend and profile as of t.",
)

USER_INTEREST = FeatureTable(
    "user_interest",
    C.USER_ID,
    (
        F(
            "interest_categories",
            "str_array",
            "ids",
            "every category bought before t, plus the "
            "top-N similarity-spread categories never bought; ordered by interest_scores desc",
        ),
        F(
            "interest_scores",
            "float_array",
            "share",
            "decayed interest spread along co-purchase "
            "similarity, normalised to sum 1 per user; aligned with interest_categories",
        ),
        F(
            "decayed_scores",
            "float_array",
            "units",
            "sum over purchases of quantity * "
            "exp(-ln2 * age_days / half_life) before spreading (0 when never bought)",
        ),
        F(
            "last_days",
            "float_array",
            "days",
            "days since the last purchase in the category (-1 when never bought)",
        ),
        F("counts_30d", "float_array", "days", "order days with the category in 30 days"),
        F("counts_180d", "float_array", "days", "order days with the category in 180 days"),
    ),
    "Per-user sparse category-interest vector: one lookup returns the whole vector.",
)

CATEGORY_STATS = FeatureTable(
    "category_stats",
    C.CATEGORY_ID,
    (
        F("department_id", "str", "id", "department of the category (the category when unknown)"),
        F("repurchase_cycle_days", "float", "days", "given, else median inter-purchase gap"),
        F("is_high_frequency", "int", "flag", "cycle <= features.high_frequency_cycle_days"),
        F("units_30d", "float", "units", "units sold in 30 days"),
        F("buyers_30d", "int", "users", "distinct buyers in 30 days"),
        F("popularity_share", "float", "share", "share of all buyers in 30 days who bought it"),
        F("median_unit_price", "float", "currency", "median unit price paid in 180 days"),
    ),
    "Per-category popularity and repurchase cycle.",
)

PRODUCT_STATS = FeatureTable(
    "product_stats",
    C.PRODUCT_ID,
    (
        F("category_id", "str", "id", "category (the product itself when unknown)"),
        F("price", "float", "currency", "list price (else median unit price paid)"),
        F("price_band", "int", "quintile", "0 (cheapest) .. 4 within the category"),
        F("units_7d", "float", "units", "units sold in 7 days"),
        F("units_30d", "float", "units", "units sold in 30 days"),
        F("units_90d", "float", "units", "units sold in 90 days"),
        F("stock_qty", "float", "units", "latest inventory snapshot before t (NaN: unknown)"),
        F("sell_through_30d", "float", "share", "units_30d / (units_30d + stock_qty)"),
        F("days_of_inventory", "float", "days", "stock_qty / (units_30d / 30); inf-capped 9999"),
        F("age_days", "float", "days", "days since launch (or first sale)"),
        F("popularity_rank", "int", "rank", "rank by units_90d within the category, 1 = top"),
        F("repurchase_cycle_days", "float", "days", "the category's repurchase cycle"),
        F("is_high_frequency", "int", "flag", "the category is high-frequency"),
        F(
            "days_since_last_sale",
            "float",
            "days",
            "days since the product's last order line before t (NaN: never sold)",
        ),
        F(
            "expected_units_recent",
            "float",
            "units",
            "units the product would sell in [t - features.slow_moving_recent_days, t) at its own"
            " baseline pace (units per day in the baseline window before that, counted from its"
            " first sale); NaN when first sold less than slow_moving_min_history_days before t",
        ),
        F(
            "velocity_ratio",
            "float",
            "ratio",
            "units sold in the recent window / expected_units_recent (1 = usual pace, 0.5 ="
            " half; NaN: no baseline)",
        ),
        F(
            "slow_moving_basis",
            "str",
            "enum",
            "definition that judged is_slow_moving: stock (a stock row exists), velocity (no"
            " stock row, enough history: expected_units_recent >="
            " features.slow_moving_min_expected_units), none (neither: never slow)",
        ),
        F(
            "is_slow_moving",
            "int",
            "flag",
            "basis stock: in stock and days_of_inventory >= slow_moving_min_days_of_inventory or"
            " sell_through_30d <= slow_moving_max_sell_through; basis velocity: still on sale"
            " (days_since_last_sale <= slow_moving_alive_days) and velocity_ratio <="
            " slow_moving_max_velocity_ratio; basis none: 0",
        ),
    ),
    "Per-product sales, stock, sales velocity and slow-moving flag. A shop without a stock"
    " feed (or a product without a stock row) gets slow movers from its sales: products still"
    " on sale that sell well below their own trailing pace.",
)

# slow_moving_basis values: which definition judged a product's is_slow_moving
BASIS_STOCK = "stock"
BASIS_VELOCITY = "velocity"
BASIS_NONE = "none"

GROUP_STATS = FeatureTable(
    "group_stats",
    C.GROUP_ID,
    (
        F("group_type", "str", "enum", "consumer / physical_store / wechat_merchant / online_shop"),
        F("store_id", "str", "id", "store running the group"),
        F("n_members", "int", "users", "members at t (joined before t, not left)"),
        F("n_active_30d", "int", "users", "members with an order in 30 days"),
        F("active_share_30d", "float", "share", "n_active_30d / n_members"),
        F("gmv_30d", "float", "currency", "members' spend in 30 days"),
        F("koc_count", "int", "users", "members with role koc"),
        F("age_days", "float", "days", "days since the group was created"),
        F("stage", "str", "enum", "early / mid / late / zombie from age and activity"),
        F("top_categories", "str", "ids", "comma-separated top 3 categories by 90-day units"),
    ),
    "Per-group size, activity, lifecycle stage and category mix.",
)

TABLES: dict[str, FeatureTable] = {
    t.name: t for t in (USER_ACTIVITY, USER_INTEREST, CATEGORY_STATS, PRODUCT_STATS, GROUP_STATS)
}
CATEGORY_SIMILARITY = "category_similarity"  # category_id, neighbor_id, similarity (latest as-of)

# FeatureServices: what each model consumes (versioned, Feast style).
REPURCHASE_SERVICE = "repurchase_v1"
INTEREST_SERVICE = "interest_v1"
PUSH_SERVICE = "push_v1"
