"""POST /push_lists fast path: answers like BentoML's endpoint, and takes only its own route."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.testclient import TestClient

from configs.workspace import Workspace
from serving.fastpath import PushListFastPath
from tests.serving.test_service import _app

REQUESTS: list[dict[str, Any]] = [
    {"group_ids": ["g0", "g1", "nope"], "top_k": 5, "members_per_product": 10},
    {"group_ids": ["g0"], "product_ids": ["p1", "p2", "zz"]},
    {"group_ids": ["g3"]},  # zombie
    {"group_ids": ["x", "y"]},  # 404
    {"group_ids": [f"g{i}" for i in range(51)]},  # 413
    {"group_ids": ["g0"], "top_k": 101},  # 422, configured limit
]
INVALID: list[dict[str, Any]] = [
    {"group_ids": ["g0"], "top_k": "many"},
    {"group_ids": []},
    {"group_ids": ["g0"], "colour": "red"},  # extra fields are forbidden
    {"top_k": 3},
]


def _answers(fast: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[list, list, list]:
    monkeypatch.setenv("GROUPPUSH__SERVING__FAST_PUSH_PATH", str(fast).lower())
    with TestClient(_app(), raise_server_exceptions=False) as c:
        ok = [(r.status_code, r.json()) for r in (c.post("/push_lists", json=q) for q in REQUESTS)]
        bad = [c.post("/push_lists", json=q) for q in INVALID]
        errors = [(r.status_code, [d["loc"][-1] for d in r.json()["detail"]]) for r in bad]
        broken = c.post(
            "/push_lists", content=b"{not json", headers={"content-type": "application/json"}
        )
        return ok, errors, [broken.status_code]


@pytest.mark.integration
def test_fast_path_answers_like_the_bentoml_endpoint(
    service_env: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _answers(True, monkeypatch)
    slow = _answers(False, monkeypatch)
    assert fast == slow
    ok, errors, broken = fast
    assert [status for status, _ in ok] == [200, 200, 200, 404, 413, 422]
    assert errors == [
        (422, ["top_k"]),
        (422, ["group_ids"]),
        (422, ["colour"]),
        (422, ["group_ids"]),
    ]
    assert broken == [422]


def _drive(app: Any, method: str, path: str, body: bytes, ctype: bytes) -> list[dict]:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(b"content-type", ctype)],
    }
    chunks = [body[:3], body[3:]]  # a body in two messages

    async def receive() -> dict:
        part = chunks.pop(0)
        return {"type": "http.request", "body": part, "more_body": bool(chunks)}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


class _Inner:
    """Stands for BentoML's app: records what reached it and the body it could read."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        self.bodies.append(message["body"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"inner"})


def test_fast_path_takes_only_json_posts_to_push_lists() -> None:
    seen: list[bytes] = []

    def handle(body: bytes) -> tuple[int, bytes]:
        seen.append(body)
        return 200, b'{"ok":true}'

    inner = _Inner()
    app = PushListFastPath(inner, handle=lambda: handle)
    sent = _drive(app, "POST", "/push_lists", b'{"group_ids":["g0"]}', b"application/json")
    assert sent[0]["status"] == 200 and sent[1]["body"] == b'{"ok":true}'
    assert (b"content-length", b"11") in sent[0]["headers"]
    assert seen == [b'{"group_ids":["g0"]}'] and not inner.bodies
    for method, path, ctype in [
        ("GET", "/push_lists", b"application/json"),
        ("POST", "/segments", b"application/json"),
        ("POST", "/push_lists", b"multipart/form-data"),
    ]:
        assert _drive(app, method, path, b"abcdef", ctype)[0]["status"] == 299
    assert len(seen) == 1 and len(inner.bodies) == 3
    off = PushListFastPath(inner, handle=lambda: None)  # switched off / not ready yet
    assert _drive(off, "POST", "/push_lists", b"{}", b"application/json")[0]["status"] == 299


def test_fast_path_failure_falls_back_with_the_body() -> None:
    def handle(body: bytes) -> tuple[int, bytes]:
        raise RuntimeError("boom")

    inner = _Inner()
    app = PushListFastPath(inner, handle=lambda: handle)
    sent = _drive(app, "POST", "/push_lists", b'{"group_ids":["g0"]}', b"application/json")
    assert sent[0]["status"] == 299 and inner.bodies == [b'{"group_ids":["g0"]}']
