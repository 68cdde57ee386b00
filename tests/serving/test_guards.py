"""Load shedding, body size, media type and per-request work bounds (serving.guards)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from configs.workspace import Workspace
from serving.guards import Limits, RequestGuard
from tests.serving.test_service import _client


def _busy_app(seconds: float):  # type: ignore[no-untyped-def]
    """An endpoint that holds the event loop SECONDS (synchronous scoring, as push_lists)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        time.sleep(seconds)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


async def _call(guard: RequestGuard) -> tuple[int, dict[bytes, bytes]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]
    scope = {"type": "http", "path": "/push_lists", "method": "POST", "headers": headers}
    await guard(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"])


def _burst(guard: RequestGuard, n: int) -> list[tuple[int, dict[bytes, bytes]]]:
    async def run() -> list[tuple[int, dict[bytes, bytes]]]:
        return list(await asyncio.gather(*(_call(guard) for _ in range(n))))

    return asyncio.run(run())


def test_burst_beyond_concurrency_is_shed_with_retry_after() -> None:
    shed: list[str] = []
    limits = Limits(
        max_concurrency=4, max_queue_seconds=5, retry_after_seconds=2, max_body_bytes=100
    )
    guard = RequestGuard(_busy_app(0.01), frozenset({"/push_lists"}), lambda: limits, shed.append)
    answers = _burst(guard, 20)
    codes = [status for status, _ in answers]
    assert codes.count(200) == 4 and codes.count(503) == 16
    assert all(h[b"retry-after"] == b"2" for s, h in answers if s == 503)
    assert shed == ["concurrency"] * 16 and guard.active == 0


def test_request_waiting_too_long_for_its_turn_is_shed() -> None:
    shed: list[str] = []
    limits = Limits(
        max_concurrency=100, max_queue_seconds=0.1, retry_after_seconds=1, max_body_bytes=100
    )
    guard = RequestGuard(_busy_app(0.04), frozenset({"/push_lists"}), lambda: limits, shed.append)
    started = time.monotonic()
    codes = [status for status, _ in _burst(guard, 30)]
    assert 2 <= codes.count(200) <= 5 and set(shed) == {"queue"}
    assert time.monotonic() - started < 0.04 * 8  # refused at once, not after the work


@pytest.fixture(scope="module")
def client(service_env: Workspace) -> Iterator[TestClient]:
    with _client() as c:
        yield c


def test_oversized_body_is_413_before_parsing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = b'{"group_ids": [' + b'"g0",' * 300_000 + b'"g0"]}'
    r = client.post("/push_lists", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "serving.max_body_bytes" in r.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: read, bounded
        for _ in range(40):
            yield b" " * 50_000

    r = client.post("/segments", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_multipart_and_other_media_types_are_415(client: TestClient) -> None:
    for path in ("/push_lists", "/feedback", "/segments", "/repurchase_scores"):
        r = client.post(path, files={"file": ("a.json", b'{"group_ids": ["g0"]}')})
        assert r.status_code == 415, (path, r.text)
        assert r.json()["field"] == "Content-Type"
    r = client.post("/push_lists", content=b"group_ids=g0", headers={"content-type": "text/plain"})
    assert r.status_code == 415


def test_work_per_request_is_bounded_naming_the_parameters(client: TestClient) -> None:
    body = {"group_ids": [f"g{i}" for i in range(50)], "top_k": 100, "members_per_product": 500}
    r = client.post("/push_lists", json=body)
    assert r.status_code == 413
    assert r.json()["field"] == "group_ids x top_k x members_per_product"
    assert "50 x 100 x 500 = 2,500,000" in r.json()["error"]
    ok = {"group_ids": ["g0"], "top_k": 100, "members_per_product": 500}
    assert client.post("/push_lists", json=ok).status_code == 200


def test_readyz_reports_snapshot_and_registry(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["ready"] is True and body["registry"] == {"up": True}
    assert body["model_version"].startswith("interest:") and body["as_of"] == "2025-12-01"


def test_feedback_times_need_a_zone_and_plausible_range(client: TestClient) -> None:
    event = {"group_id": "g0", "product_id": "p1", "event": "clicked"}
    for at in (0, "1970-01-01T00:00:00Z", "2025-12-01T10:00:00", "2999-01-01T00:00:00Z"):
        r = client.post("/feedback", json={"events": [{**event, "at": at}]})
        assert r.status_code == 422, (at, r.text)
        assert "at" in r.text
    r = client.post("/feedback", json={"events": [{**event, "at": "2025-12-01T10:00:00+08:00"}]})
    assert r.status_code == 200


def test_feedback_retry_with_idempotency_key_is_stored_once(
    client: TestClient, service_env: Workspace
) -> None:
    from serving.feedback import read_feedback

    event = {"group_id": "g0", "product_id": "p2", "event": "ordered", "at": "2025-12-01T10:00:00Z"}
    body = {"events": [event, event, event], "idempotency_key": "retry-7c1"}
    before = len(read_feedback(service_env.feedback))
    first = client.post("/feedback", json=body).json()
    again = client.post("/feedback", json=body).json()
    assert first == {"accepted": 3, "replayed": False}
    assert again == {"accepted": 3, "replayed": True}
    assert len(read_feedback(service_env.feedback)) == before + 3
    other = client.post("/feedback", json={**body, "idempotency_key": "retry-7c2"}).json()
    assert other == {"accepted": 3, "replayed": False}
