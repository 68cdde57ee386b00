"""Request -> engine -> response for each endpoint, on one snapshot (no web framework here).

Each handler returns (HTTP status, body model): 200, 404 when none of the ids is known (the
unknown ones listed), 413/422 when a configured limit is passed. push_lists returns its 200 body
as ready JSON bytes (the hot path).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime

import numpy as np
from pydantic import BaseModel
from pydantic_core import to_json

from configs.settings import Settings
from serving import engine
from serving.results import as_json_dict
from serving.schemas import (
    ErrorBody,
    PushListRequest,
    RepurchaseResponse,
    RepurchaseScore,
    SegmentsResponse,
    UserSegments,
    limit_error,
)
from serving.snapshot import Snapshot
from serving.why import NO_GROUPS, id_list, stock_feed_note

Answer = tuple[int, BaseModel]
JsonAnswer = tuple[int, BaseModel | bytes]  # bytes: the 200 body, already JSON
MAX_SEGMENTS = 5


def _split(ids: Sequence[str], index: Mapping[str, int]) -> tuple[list[int], list[str]]:
    """(indices of the known IDS, the unknown ones), de-duplicated, order kept; the lookups
    run in C (map over the bound .get): a Python loop was ~0.8 ms per 2,000 product ids."""
    keys = list(dict.fromkeys(ids))
    found = list(map(index.get, keys))
    if None not in found:
        return found, []  # type: ignore[return-value]
    known = [j for j in found if j is not None]
    return known, [i for i, j in zip(keys, found, strict=True) if j is None]


def _first_limit_error(settings: Settings, sizes: dict[str, int]) -> Answer | None:
    for field, size in sizes.items():
        err = limit_error(field, size, settings.serving)
        if err:
            return err
    return None


def _work_error(req: PushListRequest, settings: Settings) -> Answer | None:
    """413 when the answer could hold more member rows than serving.max_response_members:
    each list passing its own limit still multiplied to 2.5M rows (8.8 MB, ~0.9 s of CPU on
    the event loop every other request waits behind)."""
    n, k, m = len(req.group_ids), req.top_k, req.members_per_product
    limit = settings.serving.max_response_members
    if n * k * m <= limit:
        return None
    field = "group_ids x top_k x members_per_product"
    error = (
        f"{field}: {n} x {k} x {m} = {n * k * m:,} member rows exceeds the limit of {limit:,} "
        "(serving.max_response_members); ask for fewer groups, products or members"
    )
    return 413, ErrorBody(error=error, field=field)


def _not_found(field: str, unknown: list[str]) -> Answer:
    body = ErrorBody(error=f"{field}: none of the ids is known", field=field, unknown_ids=unknown)
    return 404, body


def _today() -> date:
    return datetime.now(UTC).date()


def push_lists(snap: Snapshot, req: PushListRequest, settings: Settings) -> JsonAnswer:
    """The push lists as JSON bytes of the PushListResponse shape (or an error body).

    Serialised from plain dicts of the engine's results (same field order as the schemas):
    building ~200 pydantic models per 500-member group cost more than the scoring."""
    sizes = {
        "group_ids": len(req.group_ids),
        "top_k": req.top_k,
        "members_per_product": req.members_per_product,
    }
    if req.product_ids is not None:
        sizes["product_ids"] = len(req.product_ids)
    if err := _first_limit_error(settings, sizes) or _work_error(req, settings):
        return err
    groups, unknown = _split(req.group_ids, snap.group_index)
    if not groups:
        if not len(snap.group_ids):
            return 404, ErrorBody(error=NO_GROUPS, field="group_ids", unknown_ids=unknown)
        return _not_found("group_ids", unknown)
    candidates: np.ndarray | None = None
    unknown_products: list[str] = []
    if req.product_ids is not None:
        known_products, unknown_products = _split(req.product_ids, snap.prod_index)
        if not known_products:
            return _not_found("product_ids", unknown_products)
        candidates = np.asarray(known_products, dtype=np.int64)
    stale = engine.staleness_warning(snap, settings.serving.stale_after_days, _today())
    used = np.zeros(len(snap.user_ids), dtype=np.int32) if len(groups) > 1 else None
    out = []
    for g in groups:
        res = engine.push_list(
            snap,
            g,
            settings.serving,
            top_k=req.top_k,
            members_per_product=req.members_per_product,
            candidates=candidates,
            used=used,
        )
        if stale:
            res.warnings.insert(0, stale)
        if unknown_products and len(res.items) < min(req.top_k, len(req.product_ids or ())):
            res.warnings.append(f"unknown product_ids: {id_list(unknown_products)}")
        out.append(as_json_dict(res))
    body = {  # the PushListResponse shape, serialised once without building pydantic models
        "as_of": snap.as_of,
        "model_version": snap.model_version,
        "groups": out,
        "unknown_group_ids": unknown,
        "unknown_product_ids": unknown_products,
        "warnings": [] if snap.stock_feed else [stock_feed_note()],
    }
    return 200, to_json(body, inf_nan_mode="null")


def _known_users(
    snap: Snapshot, user_ids: list[str], settings: Settings
) -> tuple[list[int], list[str]] | Answer:
    """(known user indices, unknown ids), or the error answer (limit passed / none known)."""
    if err := _first_limit_error(settings, {"user_ids": len(user_ids)}):
        return err
    users, unknown = _split(user_ids, snap.user_index)
    return (users, unknown) if users else _not_found("user_ids", unknown)


def repurchase_scores(snap: Snapshot, user_ids: list[str], settings: Settings) -> Answer:
    found = _known_users(snap, user_ids, settings)
    if isinstance(found[0], int):
        return found  # type: ignore[return-value]
    users, unknown = found
    probs = snap.user_rep[users]
    scores = [
        RepurchaseScore(user_id=str(snap.user_ids[u]), repurchase_prob=round(float(p), 6))
        for u, p in zip(users, probs, strict=True)
    ]
    version = snap.model_versions.get("repurchase", "heuristic")
    return 200, RepurchaseResponse(
        as_of=snap.as_of,
        model_version=f"repurchase:{version}",
        scores=scores,
        unknown_user_ids=unknown,
    )


def user_segments(snap: Snapshot, u: int, settings: Settings) -> list[str]:
    """Category segments (interest probability past the threshold, best first) + repurchase."""
    csr = snap.interest
    lo, hi = csr.indptr[u], csr.indptr[u + 1]
    probs, cats = csr.model[lo:hi], csr.indices[lo:hi]
    order = np.argsort(-probs, kind="stable")[:MAX_SEGMENTS]
    out = [
        f"interest:{snap.cat_ids[cats[i]]}"
        for i in order
        if probs[i] >= settings.training.segment_min_score
    ]
    if snap.user_rep[u] >= settings.training.repurchase_tag_threshold:
        out.append("repurchase:likely")
    return out


def segments(snap: Snapshot, user_ids: list[str], settings: Settings) -> Answer:
    found = _known_users(snap, user_ids, settings)
    if isinstance(found[0], int):
        return found  # type: ignore[return-value]
    users, unknown = found
    rows = [
        UserSegments(
            user_id=str(snap.user_ids[u]),
            tags=snap.tags_of(u),
            segments=user_segments(snap, u, settings),
        )
        for u in users
    ]
    return 200, SegmentsResponse(
        as_of=snap.as_of, model_version=snap.model_version, users=rows, unknown_user_ids=unknown
    )
