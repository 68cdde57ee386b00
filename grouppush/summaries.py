"""Short human summaries of command results (stdout without --json).

Why: the result dicts carry per-stage seconds and memory for benchmarks; a user needs the
handful of facts that say what happened and what to do next. Keys a summary does not know
(a new field another part adds) are shown compactly rather than dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_BUILD_KNOWN = {
    "dates",
    "computed",
    "seconds",
    "peak_rss_mib",
    "rows",
    "online",
    "as_of",
    "tags",
    "slow_movers",  # its own lines: features.compute.slow_movers.describe
}
_TRAIN_KNOWN = {"as_of", "snapshots", "computed_snapshots", "stages"}
_EVAL_KNOWN = {"as_of", "champions", "held_out", "truth", "targets", "report"}


def _compact(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _extra(result: Mapping[str, Any], known: set[str]) -> list[str]:
    return [f"{k}: {_compact(v)}" for k, v in result.items() if k not in known]


def _version(champion: Any) -> str:
    if isinstance(champion, Mapping) and champion.get("version") is not None:
        return f"v{champion['version']}"
    if isinstance(champion, Mapping) and champion.get("error"):
        return "none"
    return _compact(champion, 40)


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def build_lines(summary: Mapping[str, Any]) -> list[str]:
    """`features build`: as-of date, dates computed/kept, rows per table, the online load."""
    dates = summary.get("dates", [])
    computed = summary.get("computed", [])
    total = summary.get("seconds", {}).get("total")
    head = f"features built as of {summary.get('as_of')}: {len(dates)} date(s)"
    head += f", {len(computed)} computed, {len(dates) - len(computed)} kept"
    if total is not None:
        head += f", {total:.1f} s"
    lines = [head]
    rows = summary.get("rows") or {}
    if rows:
        lines.append("rows: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()))
    online = summary.get("online") or {}
    if online:
        lines.append(f"online store ({online.get('store', '?')}): {online.get('rows', 0):,} rows")
    if summary.get("tags"):  # each tag's share; warnings for tags that single nobody out
        from features.compute.tag_summary import summary_lines

        lines += summary_lines(summary["tags"])
    if summary.get("slow_movers"):  # the definition used per date and what it found
        from features.compute.slow_movers import describe

        lines += describe(summary["slow_movers"])
    return lines + _extra(summary, _BUILD_KNOWN)


def train_lines(result: Mapping[str, Any]) -> list[str]:
    """`train`: per model kind, the version, whether it serves, why, and its holdout metric."""
    lines = [
        f"trained as of {result.get('as_of')} on {len(result.get('snapshots', []))} snapshot(s)"
    ]
    for kind, summary in result.items():
        if kind in _TRAIN_KNOWN or not isinstance(summary, Mapping):
            continue
        state = "champion" if summary.get("promoted") else "not promoted"
        champion = summary.get("champion")
        if isinstance(champion, Mapping) and champion.get("version") is not None:
            scorer = str(champion.get("scorer") or "learned")
            what = "the learned model" if scorer == "learned" else f"baseline {scorer}"
            state = f"learned; champion v{champion['version']} = {what}"
        shown = _metrics(summary.get("metrics") or {})
        line = f"{kind}: {summary.get('model_name', '')} v{summary.get('version')}"
        line += (f" ({shown}) " if shown else " ") + state
        reason = summary.get("reason")
        lines.append(line + (f": {reason}" if reason else ""))
    return lines


HEADLINE = ("auc", "pr_auc", "ndcg@10", "hits@5", "recall@5")


def _metric(key: str, value: Any) -> str:
    """Counts (hits@k) as whole numbers, other floats to 4 places."""
    if key.startswith("hits@") and isinstance(value, float) and value.is_integer():
        return f"{key}={int(value)}"
    return f"{key}={_num(value)}"


def _metrics(metrics: Mapping[str, Any]) -> str:
    """The headline metrics when present, else the first three."""
    keys = [k for k in HEADLINE if k in metrics] or [k for k in metrics if k != "n"][:3]
    return ", ".join(_metric(k, metrics[k]) for k in keys)


def _metric_line(name: str, block: Mapping[str, Any]) -> str | None:
    """The model's headline metrics and, for push, the best simple ranking on the same
    queries: a count of hits means nothing without the rule it has to beat."""
    model = block.get("model")
    if not isinstance(model, Mapping):
        return None
    line = f"{name}: {_metrics(model)}"
    best = (block.get("baselines") or {}).get("rule_best")
    if isinstance(best, Mapping) and "hits@5" in best:
        line += f"; best rule {block.get('rule_best', '')}: {_metric('hits@5', best['hits@5'])}"
    return line


def evaluate_lines(result: Mapping[str, Any]) -> list[str]:
    """`evaluate`: which champions were scored, headline holdout metrics, the report paths."""
    lines = [f"evaluated as of {result.get('as_of')}"]
    champions = result.get("champions") or {}
    if champions:
        shown = ", ".join(f"{k} {_version(v)}" for k, v in champions.items())
        lines.append(f"champions: {shown}")
    for kind, block in (result.get("held_out") or {}).items():
        if isinstance(block, Mapping) and (line := _metric_line(f"held out {kind}", block)):
            lines.append(line)
    for kind, block in (result.get("truth") or {}).items():
        if isinstance(block, Mapping) and (line := _metric_line(f"vs truth {kind}", block)):
            lines.append(line)
    for key, path in (result.get("report") or {}).items():
        lines.append(f"report ({key}): {path}")
    return lines + _extra(result, _EVAL_KNOWN)
