"""Redis mode: every replica's /feedback lands in one Redis stream, and each replica's tracker
reads the others' pushes from it (a real redis-server on loopback)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from configs.settings import load_settings
from configs.workspace import resolve_workspace

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).isoformat()


def _event(user: str, event: str = "pushed") -> dict:
    return {"event": event, "group_id": "g1", "user_id": user, "product_id": "p1", "at": NOW}


def test_replicas_share_one_stream(redis_url: str, tmp_path: Path) -> None:
    from features.redis_snapshot import redis_client
    from serving.feedback import STREAM_KEY, RedisFeedback, feedback_log, mark_key
    from serving.feedback_live import with_feedback_pushes

    settings = load_settings("tiny")
    cfg = settings.features.model_copy(
        update={"online_store": "redis", "redis_connection_string": redis_url}
    )
    redis_client(redis_url).delete(STREAM_KEY)
    a = feedback_log(resolve_workspace(tmp_path / "a"), cfg)
    b = feedback_log(resolve_workspace(tmp_path / "b"), cfg)
    assert isinstance(a, RedisFeedback) and isinstance(b, RedisFeedback)
    assert a.append([_event("u1"), _event("u2", "clicked")]) == 2
    assert b.append([_event("u3")]) == 1
    rows, mark = b.read()
    assert [r["user_id"] for _, r in rows] == ["u1", "u2", "u3"] and rows[-1][0] == mark
    assert mark_key(rows[0][0]) < mark_key(rows[1][0]) < mark_key(mark)
    a.append([_event("u4")])
    later, end = b.read(mark)
    assert [r["user_id"] for _, r in later] == ["u4"] and mark_key(end) > mark_key(mark)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # no local files

    contracts, counted = with_feedback_pushes(lambda since: (None, None), b)
    _, pushes = contracts(date(2020, 1, 1))
    assert pushes is not None and sorted(pushes["user_id"]) == ["u1", "u3", "u4"]
    assert counted == end
