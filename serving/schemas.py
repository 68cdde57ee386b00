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
    group_ids: IdList
    top_k: int = Field(10, ge=1, le=10_000)
    members_per_product: int = Field(20, ge=1, le=100_000)
    product_ids: Annotated[list[Id], Field(max_length=HARD_MAX_IDS)] | None = None


class MemberOut(BaseModel):
    user_id: str
    score: float
    reasons: list[str]


class ItemOut(BaseModel):
    product_id: str
    category_id: str
    score: float
    expected_buyers: float
    members: list[MemberOut]


class GroupOut(BaseModel):
    group_id: str
    stage: str
    warnings: list[str] = []
    items: list[ItemOut] = []
    suggested_group_id: str | None = None
    move_members: list[MemberOut] = []


class PushListResponse(BaseModel):
    as_of: date
    model_version: str
    groups: list[GroupOut]
    unknown_group_ids: list[str] = []
    unknown_product_ids: list[str] = []


class UsersRequest(_Strict):
    user_ids: IdList


class RepurchaseScore(BaseModel):
    user_id: str
    repurchase_prob: float


class RepurchaseResponse(BaseModel):
    as_of: date
    model_version: str
    scores: list[RepurchaseScore]
    unknown_user_ids: list[str] = []


class UserSegments(BaseModel):
    user_id: str
    tags: list[str]
    segments: list[str]


class SegmentsResponse(BaseModel):
    as_of: date
    model_version: str
    users: list[UserSegments]
    unknown_user_ids: list[str] = []


EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)  # client clocks run ahead; a day more is a wrong timestamp


def _plausible(at: datetime) -> datetime:
    """An event time with a zone, not before 2000 and at most a day ahead (`at: 0` was 1970)."""
    latest = datetime.now(UTC) + FUTURE_SLACK
    if not EARLIEST_EVENT <= at <= latest:
        raise ValueError(f"must lie between 2000-01-01 and {latest:%Y-%m-%d} (UTC)")
    return at


class FeedbackEvent(_Strict):
    push_id: Id | None = None
    group_id: Id
    user_id: Id | None = None
    product_id: Id
    event: Literal["pushed", "clicked", "ordered"]
    at: Annotated[AwareDatetime, AfterValidator(_plausible)]  # ISO 8601 with a zone, e.g. Z


class FeedbackRequest(_Strict):
    events: Annotated[list[FeedbackEvent], Field(min_length=1, max_length=HARD_MAX_IDS)]
    # a client's retry with the same key is answered from the first call, not stored twice
    idempotency_key: Id | None = None


class FeedbackResponse(BaseModel):
    accepted: int
    replayed: bool = False  # true: this key was seen before; nothing new was stored


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
