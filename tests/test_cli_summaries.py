"""Short result lines instead of Python dicts (issue: output discipline)."""

from __future__ import annotations

from grouppush.summaries import build_lines, evaluate_lines, train_lines


def test_build_summary_is_short_lines_and_keeps_new_fields() -> None:
    summary = {
        "dates": ["2025-12-02", "2026-01-01"],
        "computed": ["2026-01-01"],
        "seconds": {"total": 12.34, "feast_apply": 3.0},
        "peak_rss_mib": {"total": 400.0},
        "rows": {"user_activity": 2000, "group_stats": 16},
        "online": {"store": "sqlite", "rows": 2016, "tables": {}},
        "as_of": "2026-01-01",
        "new_field": {"basis": "velocity", "count": 12},  # a field another part adds
    }
    lines = build_lines(summary)
    assert lines[0] == "features built as of 2026-01-01: 2 date(s), 1 computed, 1 kept, 12.3 s"
    assert "user_activity 2,000" in lines[1]
    assert 'new_field: {"basis": "velocity", "count": 12}' in lines
    assert not any("peak_rss_mib" in line or "{'" in line for line in lines)


def test_train_and_evaluate_say_what_serves() -> None:
    result = {
        "as_of": "2026-01-01",
        "snapshots": ["a", "b", "c"],
        "repurchase": {
            "model_name": "grouppush_repurchase",
            "version": "2",
            "promoted": False,
            "reason": "auc 0.88 does not beat the best baseline 0.89",
            "metrics": {"n": 10.0, "auc": 0.88, "pr_auc": 0.9, "brier": 0.1},
        },
        "stages": {"seconds": {}},
    }
    (head, line) = train_lines(result)
    assert head == "trained as of 2026-01-01 on 3 snapshot(s)"
    assert line.startswith("repurchase: grouppush_repurchase v2 (auc=0.8800, pr_auc=0.9000) not")
    assert line.endswith("does not beat the best baseline 0.89")
    result["repurchase"]["champion"] = {"version": "3", "scorer": "bgnbd"}  # a baseline serves
    line = train_lines(result)[1]
    assert "v2 (auc=0.8800, pr_auc=0.9000) learned; champion v3 = baseline bgnbd: auc" in line
    lines = evaluate_lines(
        {
            "as_of": "2026-01-01",
            "champions": {"repurchase": {"error": "no champion"}, "interest": {"version": "1"}},
            "held_out": {"interest": {"model": {"n_users": 5, "ndcg@10": 0.7, "recall@5": 0.5}}},
            "report": {"html": "r.html"},
        }
    )
    assert lines[1] == "champions: repurchase none, interest v1"
    assert "held out interest: ndcg@10=0.7000, recall@5=0.5000" in lines
    assert "report (html): r.html" in lines
    push = {
        "model": {"hits@5": 64.0, "precision@5": 0.0055, "recall@5": 0.7442},
        "baselines": {"rule_best": {"hits@5": 63.0}, "random": {"hits@5": 26.0}},
        "rule_best": "product_then_category_hl56",
    }
    line = evaluate_lines({"as_of": "2026-01-01", "held_out": {"push": push}})[1]
    assert line == (
        "held out push: hits@5=64, recall@5=0.7442; best rule product_then_category_hl56: hits@5=63"
    )
