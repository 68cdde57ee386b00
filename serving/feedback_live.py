"""Feedback read back while serving: pushes count toward the cap, outcomes feed /metrics.

A snapshot counts the `pushed` events of the feedback log up to its mark (with the logged
pushes of the contract table: `with_feedback_pushes`, called by the snapshot loader). The
worker's `FeedbackTracker` tails the same log and adds the pushed events after that mark to
the live snapshot's `push_counts`, so a push recorded a moment ago (by this worker, another
worker or, with Redis, another replica) caps its member at once, and nothing is counted twice
when a reload brings a snapshot whose mark covers it. The tracker also keeps the last
`feedback_metrics_days` of events for the online evaluation gauges (serving.feedback_eval).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from configs.settings import ServingSettings
from serving.feedback import FeedbackLog, Mark, mark_key
from serving.feedback_eval import AT, events_frame, online_evaluation, pushes_since, totals
from serving.snapshot import Snapshot, _push_counts

FEEDBACK_MARK = "feedback_mark"  # key of Snapshot.extra: the log position the snapshot counted
Contracts = Callable[[date], tuple[pd.DataFrame | None, pd.DataFrame | None]]


def with_feedback_pushes(contracts: Contracts, log: FeedbackLog) -> tuple[Contracts, Mark]:
    """CONTRACTS whose pushes also hold the log's `pushed` events, and the mark read up to."""
    positioned, mark = log.read(None)
    events = events_frame([row for _, row in positioned]) if positioned else None

    def merged(since: date) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
        memberships, pushes = contracts(since)
        if events is None:
            return memberships, pushes
        fed = pushes_since(events, since)
        if pushes is None or not len(pushes):
            return memberships, fed
        return memberships, pd.concat([pushes, fed], ignore_index=True)

    return merged, mark


def live_push_counts(snap: Snapshot, rows: list[dict[str, Any]], window_days: int) -> np.ndarray:
    """Per user of SNAP: the `pushed` ROWS inside the snapshot's push-cap window."""
    since = snap.as_of - timedelta(days=window_days)
    pushes = pushes_since(events_frame(rows), since)
    return _push_counts(
        pushes, snap.user_index, snap.group_index, snap.member_indptr, snap.members, since
    )


class FeedbackTracker:
    """Tails a feedback log for one worker (thread-safe)."""

    def __init__(self, log: FeedbackLog, cfg: ServingSettings) -> None:
        self.log, self.cfg = log, cfg
        self._lock = threading.Lock()
        self._cursor: Mark = None  # read up to here
        self._pushed: list[tuple[tuple[int, int], dict[str, Any]]] = []  # after the snapshot
        self._snap_key = mark_key(None)
        self._recent: list[tuple[pd.Timestamp, dict[str, Any]]] = []  # the metrics window
        self._sizes: tuple[int, dict[str, int]] | None = None  # (id(snapshot), group sizes)

    def catch_up(self) -> tuple[int, int]:
        """Read what was appended since the last read: (new events, new `pushed` events)."""
        with self._lock:
            positioned, self._cursor = self.log.read(self._cursor)
            new = [(mark_key(m), row) for m, row in positioned if row.get("event") == "pushed"]
            self._pushed.extend(p for p in new if p[0] > self._snap_key)
            if positioned:
                rows = [row for _, row in positioned]
                at = pd.to_datetime(
                    [r.get(AT) for r in rows], utc=True, format="ISO8601", errors="coerce"
                )
                self._recent.extend(zip(at, rows, strict=True))
                cutoff = datetime.now(UTC) - timedelta(days=self.cfg.feedback_metrics_days + 1)
                self._recent = [(t, r) for t, r in self._recent if t >= cutoff]  # NaT: dropped
            return len(positioned), len(new)

    def adjust(self, snap: Snapshot) -> Snapshot:
        """SNAP with the pushes logged after its mark added to its push counts."""
        self.catch_up()
        with self._lock:
            self._snap_key = mark_key(snap.extra.get(FEEDBACK_MARK))  # type: ignore[arg-type]
            self._pushed = [p for p in self._pushed if p[0] > self._snap_key]
            if not self._pushed:
                return snap
            rows = [row for _, row in self._pushed]
        extra = live_push_counts(snap, rows, self.cfg.push_cap_window_days)
        return replace(snap, push_counts=np.asarray(snap.push_counts + extra, dtype=np.int32))

    def evaluation_events(self) -> int:
        """Events held for the evaluation (the metrics window)."""
        with self._lock:
            return len(self._recent)

    def group_sizes(self, snap: Snapshot) -> dict[str, int]:
        """Members per group id of SNAP (cached per snapshot)."""
        if self._sizes is None or self._sizes[0] != id(snap):
            sizes = np.diff(snap.member_indptr)
            ids = snap.group_ids.tolist()
            self._sizes = (id(snap), dict(zip(map(str, ids), sizes.tolist(), strict=True)))
        return self._sizes[1]

    def evaluation(self, snap: Snapshot) -> pd.DataFrame:
        """The online evaluation per model version over the metrics window (feedback_eval)."""
        with self._lock:
            rows = [row for _, row in self._recent]
        if not rows:
            return totals(pd.DataFrame())
        events = events_frame(rows)
        start = pd.Timestamp(datetime.now(UTC).date() - timedelta(self.cfg.feedback_metrics_days))
        daily = online_evaluation(
            events, self.group_sizes(snap), self.cfg.feedback_attribution_days
        )
        if len(daily):
            daily = daily[pd.to_datetime(daily["day"]) >= start.tz_localize(None)]
        return totals(daily)
