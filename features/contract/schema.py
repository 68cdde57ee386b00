"""The data contract (DESIGN.md section 3): tables, their columns, types and which are required."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from configs import columns as C

Kind = Literal["str", "timestamp", "float", "int", "bool"]
# names are for display: a longer one is cut, not rejected (reasons and pages stay readable)
MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    min_value: float | None = None  # inclusive bound; rows below are rejected
    strict_positive: bool = False  # value must be > 0
    meaning: str = ""  # what the value is, in the words ingest errors use to teach the contract
    max_chars: int | None = None  # free text (names): trimmed, cut to this many characters


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = field(default_factory=tuple)

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")


ORDERS = Table(
    "orders",
    (
        Column(C.USER_ID, "str", required=True, meaning="the customer (household, member) id"),
        Column(C.PRODUCT_ID, "str", required=True, meaning="the product (SKU, UPC) bought"),
        Column(C.ORDERED_AT, "timestamp", required=True, meaning="when the line was ordered (UTC)"),
        Column(
            C.QUANTITY,
            "float",
            required=True,
            strict_positive=True,
            meaning="units bought on the line (> 0)",
        ),
        Column(
            C.AMOUNT,
            "float",
            required=True,
            min_value=0.0,
            meaning="the line total paid (unit price x quantity, after discounts); or give "
            "unit_price and it is computed",
        ),
        Column(C.ORDER_ID, "str", meaning="the basket / order the line belongs to"),
        Column(C.GROUP_ID, "str", meaning="the community group it was ordered in"),
        Column(C.STORE_ID, "str", meaning="the store (one group per store when no group_id)"),
    ),
)

USERS = Table(
    "users",
    (
        Column(C.USER_ID, "str", required=True, meaning="the customer id, as in orders"),
        Column(C.REGISTERED_AT, "timestamp"),
        Column(C.IDENTITY_TYPE, "str"),
        Column(C.CHANNEL, "str"),
        Column(C.REGION, "str"),
        Column(C.STORE_ID, "str"),
    ),
    key=(C.USER_ID,),
)
PRODUCTS = Table(
    "products",
    (
        Column(C.PRODUCT_ID, "str", required=True, meaning="the product id, as in orders"),
        Column(C.CATEGORY_ID, "str"),
        Column(C.DEPARTMENT_ID, "str"),
        Column(C.PRICE, "float", min_value=0.0),
        Column(C.LAUNCHED_AT, "timestamp"),
        Column(C.REPURCHASE_CYCLE_DAYS, "float", strict_positive=True),
        Column(C.PRODUCT_NAME, "str", max_chars=MAX_NAME_CHARS, meaning="the product's name"),
        Column(C.CATEGORY_NAME, "str", max_chars=MAX_NAME_CHARS, meaning="its category's name"),
    ),
    key=(C.PRODUCT_ID,),
)
INVENTORY = Table(
    "inventory",
    (
        Column(C.PRODUCT_ID, "str", required=True, meaning="the product id, as in orders"),
        Column(C.SNAPSHOT_AT, "timestamp", required=True, meaning="when the stock was counted"),
        Column(C.STOCK_QTY, "float", required=True, min_value=0.0, meaning="units in stock (>= 0)"),
    ),
    key=(C.PRODUCT_ID, C.SNAPSHOT_AT),
)
GROUPS = Table(
    "groups",
    (
        Column(C.GROUP_ID, "str", required=True, meaning="the community group id"),
        Column(C.STORE_ID, "str"),
        Column(C.OWNER_ID, "str"),
        Column(C.GROUP_TYPE, "str"),
        Column(C.CREATED_AT, "timestamp"),
    ),
    key=(C.GROUP_ID,),
)
MEMBERSHIPS = Table(
    "memberships",
    (
        Column(C.GROUP_ID, "str", required=True, meaning="the group joined"),
        Column(C.USER_ID, "str", required=True, meaning="the member's customer id"),
        Column(C.JOINED_AT, "timestamp"),
        Column(C.LEFT_AT, "timestamp"),
        Column(C.ROLE, "str"),
    ),
    key=(C.GROUP_ID, C.USER_ID),
)
PUSHES = Table(
    "pushes",
    (
        Column(C.PUSH_ID, "str", required=True, meaning="the push (message) id"),
        Column(C.GROUP_ID, "str", required=True, meaning="the group it was pushed to"),
        Column(C.PRODUCT_ID, "str", required=True, meaning="the product pushed"),
        Column(C.PUSHED_AT, "timestamp", required=True, meaning="when it was pushed"),
        Column(C.USER_ID, "str"),
        Column(C.IS_HOLDOUT, "bool"),
    ),
    key=(C.PUSH_ID,),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (ORDERS, USERS, PRODUCTS, INVENTORY, GROUPS, MEMBERSHIPS, PUSHES)
}
REQUIRED_TABLES = ("orders",)

# Input-only columns: ingest reads one when the file lacks the contract column it stands in
# for, computes that column from it and drops it (an export with a unit price and a quantity
# but no line total still gets `amount`, without editing the file). table -> {target: column}.
STAND_INS: dict[str, dict[str, Column]] = {
    "orders": {
        C.AMOUNT: Column(
            C.UNIT_PRICE,
            "float",
            min_value=0.0,
            meaning="price of one unit; amount = unit_price x quantity when amount is absent",
        )
    }
}


def stand_in(table: str, target: str) -> Column | None:
    """The input-only column that can give TARGET of TABLE, if any."""
    return STAND_INS.get(table, {}).get(target)
