"""What the engine returns: plain dataclasses, converted to the API schemas by the handlers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Member:
    user_id: str
    score: float
    reasons: list[str]


@dataclass
class Item:
    product_id: str
    category_id: str
    product_name: str | None  # display names (None: the products table has none)
    category_name: str | None
    score: float  # mean targeted member score (expected conversion rate)
    expected_buyers: float  # sum of the targeted members' scores, <= stock
    members: list[Member]


@dataclass
class GroupPushList:
    group_id: str
    stage: str
    warnings: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    suggested_group_id: str | None = None  # zombie groups: where to move the active members
    move_members: list[Member] = field(default_factory=list)


def as_json_dict(res: GroupPushList) -> dict[str, object]:
    """The GroupOut shape as plain dicts (a dataclass's __dict__ holds its fields in order):
    pydantic_core serialises dicts ~3x faster than dataclasses, which it inspects field by
    field."""
    return {
        **res.__dict__,
        "items": [{**it.__dict__, "members": [m.__dict__ for m in it.members]} for it in res.items],
        "move_members": [m.__dict__ for m in res.move_members],
    }
