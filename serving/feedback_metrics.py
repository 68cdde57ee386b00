"""Prometheus series of the feedback loop, next to BentoML's HTTP metrics on /metrics.

- `grouppush_feedback_events_total{event}`: events accepted by this deployment's workers;
- `grouppush_feedback_members{model_version,arm}` and
  `grouppush_feedback_conversion{model_version,arm}` (arm = pushed | unpushed): the online
  evaluation over the last `serving.feedback_metrics_days` days (serving.feedback_eval);
- `grouppush_feedback_uplift{model_version}`: pushed minus unpushed conversion.
prometheus_client is imported when the first worker asks (BentoML sets its multiprocess
directory at worker start-up, after the service module is imported).
The evaluation runs in a background thread (seconds of pandas on a busy log), at most once
per MIN_INTERVAL_SECONDS; a request that falls inside the interval is served by the next one.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any, Final

import pandas as pd

log = logging.getLogger(__name__)
MIN_INTERVAL_SECONDS = 10.0


_SERIES_LOCK = threading.Lock()


def _series() -> dict[str, Any]:
    """The series, created once per process (the request and metrics threads both ask)."""
    with _SERIES_LOCK:
        return _make_series()


@lru_cache(maxsize=1)
def _make_series() -> dict[str, Any]:
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


class MetricsPublisher:
    """Runs `publish(evaluate())` off the request path: one run at a time, at most one per
    MIN_INTERVAL_SECONDS; events that arrive in between are published when it is over."""

    def __init__(self, evaluate: Callable[[], pd.DataFrame]) -> None:
        self._evaluate = evaluate
        self._lock = threading.Lock()
        self._dirty = False
        self._running = False
        self._timer = False  # a wake-up is scheduled
        self._last = -math.inf

    def request(self, changed: bool) -> None:
        """Note that new events arrived (CHANGED); start a run when one is due."""
        with self._lock:
            self._dirty |= changed
            wait = self._last + MIN_INTERVAL_SECONDS - time.monotonic()
            if not self._dirty or self._running or self._timer:
                return
            if wait > 0:  # come back when the interval is over
                self._timer = True
                later = threading.Timer(wait, self._wake)
                later.daemon = True
                later.start()
                return
            self._dirty, self._running, self._last = False, True, time.monotonic()
        threading.Thread(target=self._run, name="feedback-metrics", daemon=True).start()

    def _wake(self) -> None:
        with self._lock:
            self._timer = False
        self.request(False)

    def _run(self) -> None:
        try:
            publish(self._evaluate())
        except Exception:  # noqa: BLE001 - metrics are best effort; the events are stored
            log.exception("could not update the feedback metrics")
        finally:
            with self._lock:
                self._running = False
            self.request(False)  # events that came during the run
