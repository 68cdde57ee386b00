"""JSON payloads of the operator page, pure functions of (snapshot, settings, side tables).

The push-list preview is the /push_lists handler's own answer (same engine, same bytes), then
decorated with product attributes and member tags, so the page never disagrees with the API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from configs.settings import Settings
from serving import handlers
from serving.schemas import PushListRequest
from serving.snapshot import Snapshot
from serving.ui.tables import UiTables

MAX_ROWS = 500  # groups table rows per answer (the counts tell how many matched)
MAX_MEMBERS = 300  # members listed on a group's page: the targeted ones first, then by repurchase


def groups_payload(
    tables: UiTables, q: str = "", stage: str = "", group_type: str = "", limit: int = MAX_ROWS
) -> dict[str, Any]:
    """Rows matching a case-insensitive substring of group or store id, stage and type."""
    needle = q.strip().lower()
    rows = [
        r
        for r in tables.group_rows
        if (not stage or r["stage"] == stage)
        and (not group_type or r["group_type"] == group_type)
        and (
            not needle or needle in r["group_id"].lower() or needle in (r["store_id"] or "").lower()
        )
    ]
    return {
        "total": len(tables.group_rows),
        "matched": len(rows),
        "rows": rows[: max(limit, 0)],
        "stages": sorted({r["stage"] for r in tables.group_rows}),
        "group_types": sorted({r["group_type"] for r in tables.group_rows if r["group_type"]}),
        "notes": tables.notes,
    }


def _member(snap: Snapshot, u: int) -> dict[str, Any]:
    return {
        "user_id": str(snap.user_ids[u]),
        "tags": snap.tags_of(u),
        "repurchase_prob": round(float(snap.user_rep[u]), 4),
        "order_days_30d": int(snap.user_days30[u]),
        "pushes_in_window": int(snap.push_counts[u]),
    }


def group_payload(
    snap: Snapshot, settings: Settings, tables: UiTables, req: PushListRequest
) -> tuple[int, dict[str, Any]]:
    """(status, page data) of one group: its row, stage history, members and push list."""
    status, body = handlers.push_lists(snap, req, settings)
    if status != 200:
        assert not isinstance(body, bytes)
        return status, body.model_dump(mode="json")
    answer = json.loads(body if isinstance(body, bytes) else body.model_dump_json())
    push = answer["groups"][0]
    g = snap.group_index[push["group_id"]]
    for item in push["items"]:
        item["product"] = tables.products.get(item["product_id"], {})
    targeted = {m["user_id"] for item in push["items"] for m in item["members"]}
    targeted |= {m["user_id"] for m in push["move_members"]}
    users = snap.group_members(g)
    hit = np.isin(users, [snap.user_index[u] for u in targeted])
    order = np.lexsort((-snap.user_rep[users], ~hit))[:MAX_MEMBERS]  # last key sorts first
    members = [_member(snap, int(users[i])) | {"targeted": bool(hit[i])} for i in order]
    return 200, {
        "group": tables.group_rows[g],
        "stage_history": tables.stage_history.get(push["group_id"], []),
        "members": members,
        "members_total": len(users),
        "push_list": push,
        "as_of": answer["as_of"],
        "model_version": answer["model_version"],
        "request": req.model_dump(exclude_none=True),
    }


def _age_days(d: date | None, today: date) -> int | None:
    return None if d is None else (today - d).days


def segment_sizes(snap: Snapshot) -> list[dict[str, Any]]:
    """Users per tag (a user counts once per tag it carries), largest first."""
    per_set = np.bincount(snap.user_tag_set, minlength=len(snap.tag_sets))
    counts: dict[str, int] = {}
    for tags, n in zip(snap.tag_sets, per_set.tolist(), strict=True):
        for t in tags:
            counts[t] = counts.get(t, 0) + n
    return [{"tag": t, "users": n} for t, n in sorted(counts.items(), key=lambda kv: -kv[1])]


def data_payload(
    snap: Snapshot,
    settings: Settings,
    feature_rows: Mapping[str, int | None],
    quarantine: Mapping[str, Mapping[str, int]],
    today: date | None = None,
) -> dict[str, Any]:
    """Feature freshness, table sizes, quarantine counts and segment sizes."""
    today = today or datetime.now(UTC).date()
    age = _age_days(snap.as_of, today)
    return {
        "features_as_of": snap.as_of.isoformat(),
        "features_age_days": age,
        "stale": age is not None and age > settings.serving.stale_after_days,
        "stale_after_days": settings.serving.stale_after_days,
        "newest_order_day": snap.data_as_of.isoformat() if snap.data_as_of else None,
        "feature_rows": dict(feature_rows),
        "snapshot": {
            "users": len(snap.user_ids),
            "groups": len(snap.group_ids),
            "products": len(snap.prod_ids),
            "slow_moving_in_stock": len(snap.default_candidates),
            "categories": len(snap.cat_ids),
        },
        "quarantine": {t: dict(r) for t, r in quarantine.items()},
        "segments": segment_sizes(snap),
    }


def models_payload(
    snap: Snapshot, metrics: Mapping[str, Any] | None, registry: Mapping[str, Any]
) -> dict[str, Any]:
    """Serving versions, registry details and the held-out figures `evaluate` wrote."""
    held = dict((metrics or {}).get("held_out") or {})
    kinds = []
    for kind in ("repurchase", "interest"):
        figures = held.get(kind) or {}
        kinds.append(
            {
                "kind": kind,
                "serving_version": snap.model_versions.get(kind, "heuristic"),
                "registry": registry.get(kind),
                "model": figures.get("model"),
                "candidates": figures.get("candidates") or {},  # previous champion, learned
                "baselines": figures.get("baselines") or {},
            }
        )
    return {
        "model_version": snap.model_version,
        "evaluated_as_of": (metrics or {}).get("as_of"),
        "holdout_snapshot": held.get("snapshot"),
        "evaluated_champions": (metrics or {}).get("champions"),
        "models": kinds,
        "has_report": metrics is not None,
    }


def online_payload(rows: list[dict[str, Any]] | None, window_days: int) -> dict[str, Any]:
    """Online conversion per model version from /feedback (serving.feedback_eval's totals),
    with what an empty table means."""
    if rows is None:
        note = "this instance does not track feedback"
    elif not rows:
        note = f"no pushed events in the feedback log over the last {window_days} days"
    else:
        note = None
    return {"window_days": window_days, "versions": rows or [], "note": note}


def exported_segments(summary: Mapping[str, Any] | None) -> dict[str, Any]:
    """The latest `export segments` summary: personas (size + description) and the other
    segments' sizes, or a note saying how to get them."""
    if summary is None:
        note = "no segments exported yet: run `grouppush export segments --out FILE`"
        return {"as_of": None, "exported_at": None, "personas": [], "others": [], "note": note}
    rows = list(summary.get("segments") or [])
    return {
        "as_of": summary.get("as_of"),
        "exported_at": summary.get("exported_at"),
        "personas": [r for r in rows if r.get("kind") == "persona"],
        "others": [r for r in rows if r.get("kind") != "persona"],
        "note": None,
    }
