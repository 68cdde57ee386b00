"""Prometheus series of the feedback loop, next to BentoML's HTTP metrics on /metrics.

- `grouppush_feedback_events_total{event}`: events accepted by this deployment's workers;
- `grouppush_feedback_members{model_version,arm}` and
  `grouppush_feedback_conversion{model_version,arm}` (arm = pushed | unpushed): the online
  evaluation over the last `serving.feedback_metrics_days` days (serving.feedback_eval);
- `grouppush_feedback_uplift{model_version}`: pushed minus unpushed conversion.
prometheus_client is imported when the first worker asks (BentoML sets its multiprocess
directory at worker start-up, after the service module is imported).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Final

import pandas as pd


@lru_cache(maxsize=1)
def _series() -> dict[str, Any]:
    from prometheus_client import Counter as PromCounter
    from prometheus_client import Gauge

    mode: Final = "mostrecent"  # every worker computes the same values from the shared log
    return {
        "events": PromCounter("grouppush_feedback_events", "feedback events accepted", ["event"]),
        "members": Gauge(
            "grouppush_feedback_members",
            "members pushed / not pushed in the evaluation window",
            ["model_version", "arm"],
            multiprocess_mode=mode,
        ),
        "conversion": Gauge(
            "grouppush_feedback_conversion",
            "share of the arm's members that ordered the product within the attribution days",
            ["model_version", "arm"],
            multiprocess_mode=mode,
        ),
        "uplift": Gauge(
            "grouppush_feedback_uplift",
            "pushed minus unpushed conversion",
            ["model_version"],
            multiprocess_mode=mode,
        ),
    }


def count_events(rows: Iterable[Mapping[str, Any]]) -> None:
    events = _series()["events"]
    for kind, n in Counter(str(r.get("event")) for r in rows).items():
        events.labels(event=kind).inc(n)


def _finite(value: object) -> float:
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else float("nan")


def publish(per_version: pd.DataFrame) -> None:
    """Set the evaluation gauges from serving.feedback_eval.totals rows."""
    series = _series()
    for row in per_version.itertuples(index=False):
        v = str(row.model_version)
        for arm in ("pushed", "unpushed"):
            series["members"].labels(model_version=v, arm=arm).set(
                float(getattr(row, f"{arm}_members"))
            )
            series["conversion"].labels(model_version=v, arm=arm).set(
                _finite(getattr(row, f"{arm}_conversion"))
            )
        series["uplift"].labels(model_version=v).set(
            _finite(row.pushed_conversion) - _finite(row.unpushed_conversion)
        )
