"""Redis mode: every replica's /feedback lands in one Redis stream, and each replica's tracker
reads the others' pushes from it (a real redis-server on loopback)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from configs.settings import load_settings
from configs.workspace import resolve_workspace

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).isoformat()


def _event(user: str, event: str = "pushed") -> dict:
    return {"event": event, "group_id": "g1", "user_id": user, "product_id": "p1", "at": NOW}


def test_replicas_share_one_stream(redis_url: str, tmp_path: Path) -> None:
    from features.store.redis_snapshot import redis_client
    from serving.feedback import STREAM_KEY, RedisFeedback, feedback_log, mark_key
    from serving.feedback_live import with_feedback_pushes

    settings = load_settings("tiny")
    cfg = settings.features.model_copy(
        update={"online_store": "redis", "redis_connection_string": SecretStr(redis_url)}
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


def test_idempotency_keys_hold_across_replicas(redis_url: str, tmp_path: Path) -> None:
    """A retried call with a key seen by any replica stores nothing; of concurrent calls with
    one key exactly one stores (one Lua script per call)."""
    from concurrent.futures import ThreadPoolExecutor

    from features.store.redis_snapshot import redis_client
    from serving.feedback import STREAM_KEY, feedback_log

    cfg = load_settings("tiny").features.model_copy(
        update={"online_store": "redis", "redis_connection_string": SecretStr(redis_url)}
    )
    client = redis_client(redis_url)
    client.delete(STREAM_KEY, f"{STREAM_KEY}:keys")
    a = feedback_log(resolve_workspace(tmp_path / "a"), cfg)
    b = feedback_log(resolve_workspace(tmp_path / "b"), cfg)
    assert a.append_once("k1", [_event("u1"), _event("u2")]) == (2, False)
    assert b.append_once("k1", [_event("u1"), _event("u2"), _event("u3")]) == (2, True)
    assert b.append_once("k2", [_event("u3")]) == (1, False)
    assert [r["user_id"] for _, r in a.read()[0]] == ["u1", "u2", "u3"]

    logs = [a, b] * 4
    with ThreadPoolExecutor(len(logs)) as pool:
        answers = list(pool.map(lambda log: log.append_once("k3", [_event("u9")]), logs))
    assert sorted(replayed for _, replayed in answers) == [False] + [True] * (len(logs) - 1)
    assert client.xlen(STREAM_KEY) == 4
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
