"""Column names used across GroupPush: one place, so stages never disagree on a spelling."""

from __future__ import annotations

# --- entity keys -------------------------------------------------------------
USER_ID = "user_id"
PRODUCT_ID = "product_id"
CATEGORY_ID = "category_id"
DEPARTMENT_ID = "department_id"
GROUP_ID = "group_id"
STORE_ID = "store_id"
ORDER_ID = "order_id"
PUSH_ID = "push_id"
OWNER_ID = "owner_id"

# --- contract columns ---------------------------------------------------------
ORDERED_AT = "ordered_at"
QUANTITY = "quantity"
AMOUNT = "amount"
UNIT_PRICE = "unit_price"  # ingest input only: amount = unit_price x quantity
REGISTERED_AT = "registered_at"
IDENTITY_TYPE = "identity_type"
CHANNEL = "channel"
REGION = "region"
PRICE = "price"
LAUNCHED_AT = "launched_at"
REPURCHASE_CYCLE_DAYS = "repurchase_cycle_days"
PRODUCT_NAME = "product_name"  # optional display names: every consumer falls back to the id
CATEGORY_NAME = "category_name"
SNAPSHOT_AT = "snapshot_at"
STOCK_QTY = "stock_qty"
GROUP_TYPE = "group_type"
CREATED_AT = "created_at"
JOINED_AT = "joined_at"
LEFT_AT = "left_at"
ROLE = "role"
PUSHED_AT = "pushed_at"
IS_HOLDOUT = "is_holdout"

# --- feature tables -------------------------------------------------------------
EVENT_TIMESTAMP = "event_timestamp"
REASON = "reason"
SOURCE_ROW = "source_row"
SOURCE_FILE = "source_file"

# --- labels / scores --------------------------------------------------------------
LABEL = "label"
REPURCHASE_PROB = "repurchase_prob"
SCORE = "score"
RANK = "rank"
MODEL_VERSION = "model_version"
SEGMENT_ID = "segment_id"

# --- enumerations ---------------------------------------------------------------------
IDENTITY_TYPES = ("consumer", "physical_store", "wechat_merchant", "online_shop")
B2B_IDENTITY_TYPES = IDENTITY_TYPES[1:]  # shop owners and resellers: who B2B tags are for
GROUP_TYPES = IDENTITY_TYPES
ROLES = ("member", "koc", "operator")
GROUP_STAGES = ("early", "mid", "late", "zombie")
