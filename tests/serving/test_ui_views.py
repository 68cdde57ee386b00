"""The groups table's filters and the segment counts (pure functions, no service)."""

from __future__ import annotations

import numpy as np

from serving.ui.tables import UiTables
from serving.ui.views import groups_payload, segment_sizes


def _row(gid: str, store: str, gtype: str | None, stage: str) -> dict:  # type: ignore[type-arg]
    return {"group_id": gid, "store_id": store, "group_type": gtype, "stage": stage}


def test_groups_filters_and_counts() -> None:
    rows = [
        _row("G001", "S01", "consumer", "mid"),
        _row("G002", "S02", "online_shop", "zombie"),
        _row("G010", "S01", None, "mid"),
    ]
    t = UiTables(group_rows=rows, products={}, stage_history={}, notes=["x"])
    assert [r["group_id"] for r in groups_payload(t, q="g00")["rows"]] == ["G001", "G002"]
    assert [r["group_id"] for r in groups_payload(t, q=" s01 ")["rows"]] == ["G001", "G010"]
    assert groups_payload(t, stage="zombie")["rows"] == [rows[1]]
    assert groups_payload(t, group_type="consumer", stage="zombie")["matched"] == 0
    page = groups_payload(t, limit=1)
    assert (page["total"], page["matched"], len(page["rows"])) == (3, 3, 1)
    assert page["group_types"] == ["consumer", "online_shop"] and page["stages"] == [
        "mid",
        "zombie",
    ]


class _Snap:
    tag_sets = (("A", "B"), ("B",), ())
    user_tag_set = np.array([0, 0, 1, 2, 1], dtype=np.int32)


def test_segment_sizes_count_users_per_tag() -> None:
    assert segment_sizes(_Snap()) == [{"tag": "B", "users": 4}, {"tag": "A", "users": 2}]  # type: ignore[arg-type]


class _Served:
    model_versions = {"repurchase": "4"}
    model_version = "repurchase:4"


def test_models_payload_shows_the_previous_champion_row_of_evaluate() -> None:
    from serving.ui.views import models_payload

    previous = {"previous champion v3": {"auc": 0.71}}
    metrics = {
        "as_of": "2026-01-01",
        "held_out": {
            "snapshot": "2025-12-02",
            "repurchase": {"model": {"auc": 0.74}, "candidates": previous, "baselines": {}},
        },
    }
    shown = models_payload(_Served(), metrics, {})["models"]  # type: ignore[arg-type]
    assert shown[0]["candidates"] == previous and shown[0]["model"] == {"auc": 0.74}
    assert shown[1]["candidates"] == {} and shown[1]["serving_version"] == "heuristic"
