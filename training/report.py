"""The evaluation report: one self-contained HTML file (PNG plots inlined) + metrics JSON."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from configs import columns as C
from training import plots

SHOWN = (
    "auc",
    "pr_auc",
    "log_loss",
    "brier",
    "recall@1",
    "recall@5",
    "recall@10",
    "ndcg@1",
    "ndcg@5",
    "ndcg@10",
    "hits@5",
    "precision@5",
)


def _table(rows: dict[str, dict[str, float]]) -> str:
    cols = [c for c in SHOWN if any(c in r for r in rows.values())]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for name, values in rows.items():
        cells = "".join(
            f"<td>{values[c]:.4f}</td>" if isinstance(values.get(c), float) else "<td>-</td>"
            for c in cols
        )
        body.append(f"<tr><th>{html.escape(name)}</th>{cells}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(body)}</table>"


RANKING_BASELINES = ("most_recent", "popularity", "decayed_interest", "decayed_frequency_best")


def _rows(
    section: dict[str, Any], only: tuple[str, ...] | None = None, labels: bool = True
) -> dict[str, dict[str, float]]:
    """Champion, other candidates, oracle and baselines of one section (optionally only
    some baselines)."""
    names = {"model": "model (champion)", "oracle": "oracle (true propensity)"}
    rows = {names[k] if labels else k: section[k] for k in names if k in section}
    if only is None:
        for name, values in section.get("candidates", {}).items():
            rows[f"candidate: {name}" if labels else name] = values
    for name, values in section.get("baselines", {}).items():
        if only is None or name in only:
            rows[f"baseline: {name}" if labels else name] = values
    return rows


def _img(fig: Any, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{plots.to_png_base64(fig)}">'


def render(result: dict[str, Any]) -> str:
    """HTML for the evaluate() result."""
    parts = [f"<h1>GroupPush evaluation as of {html.escape(result['as_of'])}</h1>"]
    for kind, info in result.get("champions", {}).items():
        label = info.get("error") or (
            f"{info['model_name']} v{info['version']} ({info.get('scorer', 'learned')})"
        )
        parts.append(f"<p><b>{kind} champion:</b> {html.escape(str(label))}</p>")
    held = result.get("held_out", {})
    if "repurchase" in held:
        sec = held["repurchase"]
        parts += [f"<h2>Repurchase, held-out snapshot {held['snapshot']}</h2>", _table(_rows(sec))]
        hold = sec.get("_holdout")
        if hold is not None:
            y = hold[C.LABEL].to_numpy()
            scores = {c: hold[c].to_numpy() for c in hold.columns if c not in (C.USER_ID, C.LABEL)}
            parts.append(_img(plots.roc_pr(y, scores), "ROC and PR"))
            parts.append(_img(plots.calibration(y, hold["model"].to_numpy()), "calibration"))
    if "interest" in held:
        sec = held["interest"]
        parts += [
            f"<h2>Category interest, held-out snapshot {held['snapshot']}</h2>",
            _table(_rows(sec)),
            _img(plots.recall_at_k(_rows(sec, RANKING_BASELINES, labels=False)), "recall@k"),
        ]
    if "push" in held:
        sec = held["push"]
        title = f"Push targeting: hits@5 per (group, product), snapshot {sec['snapshot']}"
        parts += [f"<h2>{html.escape(title)}</h2>", _table(_rows(sec))]
        if "truth" in sec:
            parts += ["<h3>Push targeting against the realised future orders</h3>"]
            parts.append(_table(_rows(sec["truth"])))
    truth = result.get("truth")
    if truth:
        parts.append(f"<h2>Against the simulator's ground truth (as of {truth['as_of']})</h2>")
        parts += ["<h3>Repurchase</h3>", _table(_rows(truth["repurchase"]))]
        parts += [
            "<h3>Category interest</h3>",
            _table(_rows(truth["interest"])),
            _img(
                plots.recall_at_k(_rows(truth["interest"], RANKING_BASELINES, labels=False)),
                "recall@k vs truth",
            ),
        ]
    targets = result.get("targets", {})
    if targets:
        items = "".join(
            f"<li>{html.escape(k)}: {html.escape(str(v))}</li>" for k, v in targets.items()
        )
        parts.append(f"<h2>Targets</h2><ul>{items}</ul>")
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}img{max-width:100%}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style>"
        f"<title>GroupPush evaluation</title></head><body>{''.join(parts)}</body></html>"
    )


def write_report(result: dict[str, Any], reports: Path) -> dict[str, Path]:
    """reports/evaluation.html and reports/metrics.json (frames left out of the JSON)."""
    reports.mkdir(parents=True, exist_ok=True)
    html_path, json_path = reports / "evaluation.html", reports / "metrics.json"
    html_path.write_text(render(result), encoding="utf-8")
    json_path.write_text(
        json.dumps(strip_frames(result), indent=2, default=str, allow_nan=True), encoding="utf-8"
    )
    return {"html": html_path, "json": json_path}


def strip_frames(value: Any) -> Any:
    """Drop private frames (keys starting with '_') so the result is JSON."""
    if isinstance(value, dict):
        return {k: strip_frames(v) for k, v in value.items() if not str(k).startswith("_")}
    return value
