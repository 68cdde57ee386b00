"""HTTP request/response models (DESIGN.md section 7); list limits come from ServingSettings.

Pydantic enforces shapes and hard ceilings (bounded parsing); the configured, smaller limits
are checked per request by `limit_error` so a preset or env var can change them at run time.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from configs.settings import ServingSettings

HARD_MAX_IDS = 100_000
MIN_YEAR, MAX_YEAR = 1970, 2200  # feedback event times
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


class FeedbackEvent(_Strict):
    """One push outcome."""

    push_id: Id | None = Field(None, description="the campaign's push id, when it has one")
    group_id: Id = Field(description="the group the product was pushed into")
    user_id: Id | None = Field(None, description="the member; null: the whole group")
    product_id: Id = Field(description="the pushed product")
    event: Literal["pushed", "clicked", "ordered"] = Field(
        description="pushed counts toward the push cap; clicked/ordered feed the evaluation"
    )
    at: datetime = Field(description="when it happened (ISO 8601; naive = UTC; 1970-2200)")
    model_version: Annotated[str, Field(max_length=256)] | None = Field(
        None,
        description="the push list's model_version (pushed events); null: the serving version",
    )

    @field_validator("at")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        """Reject times the evaluation could not place (pandas holds 1677-2262)."""
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise ValueError(f"year {value.year} is outside {MIN_YEAR}-{MAX_YEAR}")
        return value


class FeedbackRequest(_Strict):
    """Push outcomes, appended durably."""

    events: Annotated[list[FeedbackEvent], Field(min_length=1, max_length=HARD_MAX_IDS)] = Field(
        description="at most max_feedback_events events"
    )


class FeedbackResponse(BaseModel):
    accepted: int = Field(description="events written")


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
