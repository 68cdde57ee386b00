"""Online evaluation from feedback events, on hand-counted examples."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from serving.feedback import FileFeedback, mark_key
from serving.feedback_eval import events_frame, online_evaluation, pushes_since, totals

SIZES = {"g1": 10, "g2": 5}


def _ev(event: str, group: str, user: str | None, product: str, at: str, **kw: str) -> dict:
    return {
        "event": event,
        "group_id": group,
        "user_id": user,
        "product_id": product,
        "at": at,
        **kw,
    }


EVENTS = [
    _ev("pushed", "g1", "u1", "p1", "2026-01-01T08:00:00Z", model_version="v1"),
    _ev("pushed", "g1", "u2", "p1", "2026-01-01T08:00:00Z", model_version="v1"),
    _ev("pushed", "g1", "u2", "p1", "2026-01-01T09:00:00Z", model_version="v1"),  # repeat
    _ev("clicked", "g1", "u1", "p1", "2026-01-01T09:00:00Z"),
    _ev("ordered", "g1", "u1", "p1", "2026-01-02T09:00:00Z"),  # pushed member converts
    _ev("ordered", "g1", "u5", "p1", "2026-01-07T23:00:00"),  # unpushed, day 7 (naive = UTC)
    _ev("ordered", "g1", "u6", "p1", "2026-01-08T09:00:00Z"),  # past the 7-day window
    _ev("ordered", "g1", "u7", "p2", "2026-01-02T07:00:00Z"),  # before p2's push
    _ev("pushed", "g2", None, "p1", "2026-01-01T08:00:00Z", model_version="v1"),  # whole group
    _ev("ordered", "g2", "u9", "p1", "2026-01-02T00:00:00Z"),
    _ev("pushed", "g1", "u3", "p2", "2026-01-02T08:00:00Z", model_version="v2"),
]


def test_conversion_of_pushed_vs_unpushed_members_per_day_and_version() -> None:
    out = online_evaluation(events_frame(EVENTS), SIZES, attribution_days=7)
    rows = {(r.day, r.model_version): r for r in out.itertuples(index=False)}
    assert set(rows) == {(date(2026, 1, 1), "v1"), (date(2026, 1, 2), "v2")}
    v1 = rows[(date(2026, 1, 1), "v1")]
    assert (v1.pushes, v1.group_pushes) == (1, 1)  # g2's group-wide push is left out
    assert (v1.pushed_members, v1.pushed_clicked, v1.pushed_ordered) == (2, 1, 1)
    assert (v1.unpushed_members, v1.unpushed_ordered) == (8, 1)  # u5 only: u6 is too late
    assert v1.pushed_conversion == pytest.approx(0.5)
    assert v1.unpushed_conversion == pytest.approx(1 / 8)
    assert v1.uplift == pytest.approx(0.5 - 1 / 8)
    v2 = rows[(date(2026, 1, 2), "v2")]
    assert (v2.pushed_members, v2.pushed_ordered, v2.unpushed_members) == (1, 0, 9)
    assert v2.unpushed_ordered == 0  # u7 ordered p2 an hour before it was pushed
    per_version = totals(out).set_index("model_version")
    assert per_version.loc["v1", "pushed_conversion"] == pytest.approx(0.5)


def test_a_shorter_window_drops_late_orders() -> None:
    out = online_evaluation(events_frame(EVENTS), SIZES, attribution_days=1)
    v1 = out[out["model_version"] == "v1"].iloc[0]
    # u1 ordered 25 h after the push, u5 six days after
    assert v1["unpushed_ordered"] == 0 and v1["pushed_ordered"] == 0


def test_only_group_wide_pushes_or_no_pushes() -> None:
    only_group = online_evaluation(events_frame(EVENTS[8:10]), SIZES, 7)
    assert only_group["group_pushes"].tolist() == [1] and only_group["pushes"].tolist() == [0]
    assert online_evaluation(events_frame(EVENTS[3:5]), SIZES, 7).empty


def test_unusable_times_are_left_out_and_refused_by_the_api() -> None:
    from pydantic import ValidationError

    from serving.schemas import FeedbackEvent

    rows = [*EVENTS[:2], _ev("pushed", "g1", "u9", "p1", "0001-01-01T00:00:00Z")]
    assert len(events_frame(rows)) == 2
    with pytest.raises(ValidationError, match="must lie between 2000-01-01"):
        FeedbackEvent.model_validate(rows[-1])


def test_pushes_since_has_the_pushes_contract_shape() -> None:
    got = pushes_since(events_frame(EVENTS), date(2026, 1, 2))
    assert got.to_dict("records") == [
        {"group_id": "g1", "user_id": "u3", "pushed_at": pd.Timestamp("2026-01-02T08:00Z")}
    ]


def test_file_log_reads_whole_lines_after_a_mark(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = FileFeedback(tmp_path)
    assert log.append(EVENTS[:2]) == 2
    first, mark = log.read()
    assert [row["user_id"] for _, row in first] == ["u1", "u2"] and first[-1][0] == mark
    with (tmp_path / "feedback.jsonl").open("ab") as fh:
        fh.write(b'{"event": "pus')  # a line still being written is not read yet
    assert log.read(mark) == ([], mark)
    with (tmp_path / "feedback.jsonl").open("ab") as fh:
        fh.write(b'hed"}\n')
    later, end = log.read(mark)
    assert [row for _, row in later] == [{"event": "pushed"}]
    assert mark_key(end) > mark_key(mark) > mark_key(None)
    with (tmp_path / "feedback.jsonl").open("ab") as fh:
        fh.write(b"not json\n")
    with pytest.raises(ValueError, match=f"byte {end}: not a JSON feedback event"):
        FileFeedback(tmp_path, strict=True).read(end)
    assert log.read(end)[0] == []  # the service logs it and reads on
    assert mark_key("1700000000000-3") > mark_key("1700000000000-2")


def test_metrics_publisher_runs_off_the_request_path_and_catches_up(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import time

    from serving import feedback_metrics

    published: list[int] = []
    monkeypatch.setattr(feedback_metrics, "MIN_INTERVAL_SECONDS", 0.3)
    monkeypatch.setattr(feedback_metrics, "publish", lambda table: published.append(len(table)))
    calls: list[float] = []

    def evaluate() -> pd.DataFrame:
        calls.append(time.monotonic())
        return pd.DataFrame({"x": range(len(calls))})

    pub = feedback_metrics.MetricsPublisher(evaluate)
    pub.request(False)
    time.sleep(0.1)
    assert not calls  # nothing new: nothing to publish
    started = time.monotonic()
    pub.request(True)
    pub.request(True)  # inside the interval: waits for it, then runs once more
    deadline = time.monotonic() + 5
    while len(published) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert published == [1, 2] and calls[1] >= started + 0.3
