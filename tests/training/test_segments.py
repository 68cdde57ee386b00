"""Segments: category thresholds / top share, personas, model-based tags."""

from __future__ import annotations

import numpy as np
import pandas as pd

from configs import columns as C
from configs.settings import TrainingSettings
from training.segments import COLUMNS, build_segments, category_segments, explode_scores


def _interest(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    cats = [f"c{i}" for i in range(6)]
    rows = []
    for u in range(n):
        w = rng.dirichlet(np.full(6, 0.4))
        order = np.argsort(-w)
        rows.append(
            {
                C.USER_ID: f"u{u}",
                "interest_categories": [cats[i] for i in order],
                "interest_scores": list(w[order]),
                "decayed_scores": list(w[order]),
                "last_days": [1.0] * 6,
                "counts_30d": [1.0] * 6,
                "counts_180d": [1.0] * 6,
            }
        )
    return pd.DataFrame(rows)


def test_category_segments_use_threshold_or_top_share() -> None:
    cfg = TrainingSettings(segment_min_score=0.5, segment_top_share=0.1)
    seg = category_segments(explode_scores(_interest()), cfg)
    for _, members in seg.groupby(C.SEGMENT_ID):
        strong = members[C.SCORE] >= 0.5
        assert (~strong).sum() <= np.ceil(0.1 * 60)
    assert (seg[C.SCORE] > 0).all()


def test_build_segments_personas_and_tags() -> None:
    cfg = TrainingSettings(n_personas=3)
    interest = _interest()
    scores = pd.DataFrame(
        {C.USER_ID: interest[C.USER_ID], C.REPURCHASE_PROB: np.linspace(0, 1, len(interest))}
    )
    seg = build_segments(interest, scores, cfg)
    assert list(seg.columns) == COLUMNS
    personas = seg[seg["segment_kind"] == "persona"]
    assert personas[C.USER_ID].is_unique and len(personas) == len(interest)
    assert personas[C.SEGMENT_ID].nunique() <= 3
    likely = seg[seg[C.SEGMENT_ID] == "tag:likely_repurchase"]
    assert (likely[C.SCORE] >= cfg.repurchase_tag_threshold).all() and len(likely) > 0


def test_category_segments_keep_exactly_the_top_share_by_hand() -> None:
    # one category, scores 0.4 > 0.3 > 0.2 = 0.2 > 0.1 (ties keep row order); top 40% -> 2
    long = pd.DataFrame(
        {
            C.USER_ID: ["a", "b", "c", "d", "e", "f"],
            C.CATEGORY_ID: ["k"] * 5 + ["m"],
            "interest_score": [0.2, 0.4, 0.1, 0.2, 0.3, 0.0],
        }
    )
    cfg = TrainingSettings(segment_min_score=0.35, segment_top_share=0.4)
    seg = category_segments(long, cfg)
    assert sorted(seg[C.USER_ID]) == ["b", "e"]  # b passes both; e is second; m has no interest
    cfg = TrainingSettings(segment_min_score=0.15, segment_top_share=0.2)
    assert sorted(category_segments(long, cfg)[C.USER_ID]) == ["a", "b", "d", "e"]


def test_arrow_snapshot_gives_the_same_segments_as_pandas() -> None:
    import pyarrow as pa

    cfg = TrainingSettings(n_personas=3)
    interest = _interest()
    table = pa.Table.from_pandas(interest, preserve_index=False)
    key = [C.SEGMENT_ID, C.USER_ID]
    a = build_segments(interest, None, cfg).sort_values(key).reset_index(drop=True)
    b = build_segments(table, None, cfg).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_segment_summary_sizes_and_persona_descriptions() -> None:
    from training.segments import segment_summary

    interest = _interest()
    scores = pd.DataFrame(
        {C.USER_ID: interest[C.USER_ID], C.REPURCHASE_PROB: np.linspace(0, 1, len(interest))}
    )
    seg = build_segments(interest, scores, TrainingSettings(n_personas=3))
    summary = segment_summary(seg)
    ids = [r["segment_id"] for r in summary]
    assert len(ids) == len(set(ids))
    assert {r["segment_id"] for r in summary} == set(seg[C.SEGMENT_ID])
    sizes = seg.groupby(C.SEGMENT_ID).size()
    assert all(r["members"] == sizes[r["segment_id"]] for r in summary)
    kinds = [r["kind"] for r in summary]
    assert kinds == sorted(kinds, key=["persona", "model_tag", "category"].index)
    personas = [r for r in summary if r["kind"] == "persona"]
    assert sum(r["members"] for r in personas) == len(interest)
    assert all(f"{r['members']} members; top categories" in r["description"] for r in personas)
    sizes_shown = [r["members"] for r in personas]
    assert sizes_shown == sorted(sizes_shown, reverse=True)
    assert segment_summary(seg.iloc[:0]) == []
