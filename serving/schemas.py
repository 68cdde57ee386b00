"""HTTP request/response models (DESIGN.md section 7); list limits come from ServingSettings.

Pydantic enforces shapes and hard ceilings (bounded parsing); the configured, smaller limits
are checked per request by `limit_error` so a preset or env var can change them at run time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from configs.settings import ServingSettings

HARD_MAX_IDS = 100_000
Id = Annotated[str, Field(min_length=1, max_length=128)]
IdList = Annotated[list[Id], Field(min_length=1, max_length=HARD_MAX_IDS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PushListRequest(_Strict):
    """Groups to build push lists for (slow-moving products in stock unless product_ids)."""

    group_ids: IdList = Field(description="ids of the groups to answer (at most max_group_ids)")
    top_k: int = Field(10, ge=1, le=10_000, description="products per group, best first")
    members_per_product: int = Field(
        20, ge=1, le=100_000, description="members to target per product, best first"
    )
    product_ids: Annotated[list[Id], Field(max_length=HARD_MAX_IDS)] | None = Field(
        None, description="candidate products; null: the slow-moving products in stock"
    )


class MemberOut(BaseModel):
    """One member to target."""

    user_id: str = Field(description="the member's user id")
    score: float = Field(description="chance the member buys the product (interest, repurchase)")
    reasons: list[str] = Field(description="human-readable reasons (tags and interest)")


class ItemOut(BaseModel):
    """One product to push into the group."""

    product_id: str = Field(description="the slow-moving product")
    category_id: str = Field(description="its category")
    product_name: str | None = Field(
        None, description="the product's name (null: the products table has none)"
    )
    category_name: str | None = Field(
        None, description="its category's name (null: the products table has none)"
    )
    score: float = Field(description="mean score of the targeted members")
    expected_buyers: float = Field(description="sum of the targeted members' scores (<= stock)")
    members: list[MemberOut] = Field(description="the members to target, best first")


class GroupOut(BaseModel):
    """The push list of one group."""

    group_id: str = Field(description="the group")
    stage: str = Field(description="group stage: early, mid, late or zombie")
    warnings: list[str] = Field([], description="e.g. stale features, every member capped")
    items: list[ItemOut] = Field([], description="products to push, by expected buyers")
    suggested_group_id: str | None = Field(
        None, description="zombie groups: the active group to move members to"
    )
    move_members: list[MemberOut] = Field(
        [], description="zombie groups: the still active members to move"
    )


class PushListResponse(BaseModel):
    """Push lists per known group; unknown ids are listed, not fatal."""

    as_of: date = Field(description="as-of date of the features")
    model_version: str = Field(description="champion model versions that scored the members")
    groups: list[GroupOut] = Field(description="one push list per known group, in request order")
    unknown_group_ids: list[str] = Field([], description="requested groups that are not known")
    unknown_product_ids: list[str] = Field([], description="requested products not known")
    warnings: list[str] = Field(
        [], description="response-wide notes, each once (e.g. no inventory feed)"
    )


class UsersRequest(_Strict):
    """Users to answer for."""

    user_ids: IdList = Field(description="user ids (at most max_user_ids)")


class RepurchaseScore(BaseModel):
    user_id: str = Field(description="the user")
    repurchase_prob: float = Field(description="probability of another order within the horizon")


class RepurchaseResponse(BaseModel):
    as_of: date = Field(description="as-of date of the features")
    model_version: str = Field(description="repurchase champion version (or heuristic)")
    scores: list[RepurchaseScore] = Field(description="one score per known user")
    unknown_user_ids: list[str] = Field([], description="requested users that are not known")


class UserSegments(BaseModel):
    user_id: str = Field(description="the user")
    tags: list[str] = Field(description="business-scenario tags (configs/tags.yaml)")
    segments: list[str] = Field(description="interest:<category> segments and repurchase:likely")


class SegmentsResponse(BaseModel):
    as_of: date = Field(description="as-of date of the features")
    model_version: str = Field(description="champion model versions")
    users: list[UserSegments] = Field(description="one entry per known user")
    unknown_user_ids: list[str] = Field([], description="requested users that are not known")


EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)  # client clocks run ahead; a day more is a wrong timestamp


def _plausible(at: datetime) -> datetime:
    """An event time with a zone, not before 2000 and at most a day ahead (`at: 0` was 1970)."""
    latest = datetime.now(UTC) + FUTURE_SLACK
    if not EARLIEST_EVENT <= at <= latest:
        raise ValueError(f"must lie between 2000-01-01 and {latest:%Y-%m-%d} (UTC)")
    return at


class FeedbackEvent(_Strict):
    """One push outcome."""

    push_id: Id | None = Field(None, description="the campaign's push id, when it has one")
    group_id: Id = Field(description="the group the product was pushed into")
    user_id: Id | None = Field(None, description="the member; null: the whole group")
    product_id: Id = Field(description="the pushed product")
    event: Literal["pushed", "clicked", "ordered"] = Field(
        description="pushed counts toward the push cap; clicked/ordered feed the evaluation"
    )
    at: Annotated[AwareDatetime, AfterValidator(_plausible)] = Field(
        description="when it happened: ISO 8601 with a zone (e.g. Z), from 2000-01-01 to "
        "tomorrow (UTC)"
    )
    model_version: Annotated[str, Field(max_length=256)] | None = Field(
        None,
        description="the push list's model_version (pushed events); null: the serving version",
    )


class FeedbackRequest(_Strict):
    """Push outcomes, appended durably."""

    events: Annotated[list[FeedbackEvent], Field(min_length=1, max_length=HARD_MAX_IDS)] = Field(
        description="at most max_feedback_events events"
    )
    idempotency_key: Id | None = Field(
        None,
        description="a client's retry with the same key is answered from the first call "
        "(replayed: true) and its events are not stored twice",
    )


class FeedbackResponse(BaseModel):
    accepted: int = Field(description="events written (on a replay: by the first call)")
    replayed: bool = Field(
        False, description="true: this idempotency_key was seen before; nothing new was stored"
    )


class ErrorBody(BaseModel):
    error: str
    field: str | None = None
    unknown_ids: list[str] = []


def limit_error(field: str, size: int, cfg: ServingSettings) -> tuple[int, ErrorBody] | None:
    """(status, body) when a list or count passes its configured limit: 413 lists, 422 counts."""
    limits = {
        "group_ids": (cfg.max_group_ids, 413),
        "user_ids": (cfg.max_user_ids, 413),
        "product_ids": (cfg.max_product_ids, 413),
        "events": (cfg.max_feedback_events, 413),
        "top_k": (cfg.max_top_k, 422),
        "members_per_product": (cfg.max_members_per_product, 422),
    }
    limit, status = limits[field]
    if size <= limit:
        return None
    return status, ErrorBody(error=f"{field}: {size} exceeds the limit of {limit}", field=field)
