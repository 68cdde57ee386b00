"""The data contract (DESIGN.md section 3): tables, their columns, types and which are required."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from configs import columns as C

Kind = Literal["str", "timestamp", "float", "int", "bool"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    min_value: float | None = None  # inclusive bound; rows below are rejected
    strict_positive: bool = False  # value must be > 0


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
        Column(C.USER_ID, "str", required=True),
        Column(C.PRODUCT_ID, "str", required=True),
        Column(C.ORDERED_AT, "timestamp", required=True),
        Column(C.QUANTITY, "float", required=True, strict_positive=True),
        Column(C.AMOUNT, "float", required=True, min_value=0.0),
        Column(C.ORDER_ID, "str"),
        Column(C.GROUP_ID, "str"),
        Column(C.STORE_ID, "str"),
    ),
)
USERS = Table(
    "users",
    (
        Column(C.USER_ID, "str", required=True),
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
        Column(C.PRODUCT_ID, "str", required=True),
        Column(C.CATEGORY_ID, "str"),
        Column(C.DEPARTMENT_ID, "str"),
        Column(C.PRICE, "float", min_value=0.0),
        Column(C.LAUNCHED_AT, "timestamp"),
        Column(C.REPURCHASE_CYCLE_DAYS, "float", strict_positive=True),
    ),
    key=(C.PRODUCT_ID,),
)
INVENTORY = Table(
    "inventory",
    (
        Column(C.PRODUCT_ID, "str", required=True),
        Column(C.SNAPSHOT_AT, "timestamp", required=True),
        Column(C.STOCK_QTY, "float", required=True, min_value=0.0),
    ),
    key=(C.PRODUCT_ID, C.SNAPSHOT_AT),
)
GROUPS = Table(
    "groups",
    (
        Column(C.GROUP_ID, "str", required=True),
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
        Column(C.GROUP_ID, "str", required=True),
        Column(C.USER_ID, "str", required=True),
        Column(C.JOINED_AT, "timestamp"),
        Column(C.LEFT_AT, "timestamp"),
        Column(C.ROLE, "str"),
    ),
    key=(C.GROUP_ID, C.USER_ID),
)
PUSHES = Table(
    "pushes",
    (
        Column(C.PUSH_ID, "str", required=True),
        Column(C.GROUP_ID, "str", required=True),
        Column(C.PRODUCT_ID, "str", required=True),
        Column(C.PUSHED_AT, "timestamp", required=True),
        Column(C.USER_ID, "str"),
        Column(C.IS_HOLDOUT, "bool"),
    ),
    key=(C.PUSH_ID,),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (ORDERS, USERS, PRODUCTS, INVENTORY, GROUPS, MEMBERSHIPS, PUSHES)
}
REQUIRED_TABLES = ("orders",)
