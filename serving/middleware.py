"""ASGI middlewares: API-key check (Bearer), 422 for request validation errors, /readyz detail."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/livez", "/healthz", "/readyz"})
OWN_AUTH_PREFIX = "/ui"  # the operator page checks the same key itself (cookie or Bearer)


class ApiKeyMiddleware:
    """When a key is configured, every path but health needs `Authorization: Bearer <key>`."""

    def __init__(self, app: App, key: Callable[[], str | None]) -> None:
        self.app, self.key = app, key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self.key() if scope["type"] == "http" else None
        path = scope.get("path", "")
        if key and path not in OPEN_PATHS and not _own_auth(path):
            headers = dict(scope.get("headers") or [])
            given = headers.get(b"authorization", b"")
            expected = b"Bearer " + key.encode("utf-8")
            if not hmac.compare_digest(given, expected):
                body = {"error": "missing or invalid API key", "field": "Authorization"}
                await send_json(send, 401, body, [(b"www-authenticate", b"Bearer")])
                return
        await self.app(scope, receive, send)


def _own_auth(path: str) -> bool:
    return path == OWN_AUTH_PREFIX or path.startswith(OWN_AUTH_PREFIX + "/")


class ValidationStatusMiddleware:
    """BentoML answers pydantic validation errors with 400; the API contract says 422."""

    def __init__(self, app: App, paths: frozenset[str]) -> None:
        self.app, self.paths = app, paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return

        async def patched(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 400:
                message = {**message, "status": 422}
            await send(message)

        await self.app(scope, receive, patched)


class ReadinessMiddleware:
    """GET /readyz with a JSON detail: 200 while a snapshot is live (with its version and
    the registry's state: a registry outage keeps the live snapshot, so it stays ready but
    says so), 503 before the first snapshot. DETAIL returns None until then."""

    def __init__(self, app: App, detail: Callable[[], dict[str, Any] | None]) -> None:
        self.app, self.detail = app, detail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != "/readyz":
            await self.app(scope, receive, send)
            return
        detail = self.detail()
        if detail is None:
            await send_json(send, 503, {"ready": False, "detail": "loading the first snapshot"})
            return
        await send_json(send, 200, {"ready": True, **detail})


async def send_json(
    send: Send, status: int, body: dict[str, Any], extra: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """One complete JSON response (status, content type and length, EXTRA headers)."""
    data = json.dumps(body).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A receive that yields BODY once, then defers to the original (for a fall-through)."""
    done = False

    async def again() -> Message:
        nonlocal done
        if done:
            return await receive()
        done = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again
