"""Request guards in front of the API: load shedding, body size and media type, before parsing.

Why: the service runs requests on one event loop per worker, and the push-list scoring is
synchronous CPU. Under a burst the requests did not fail, they queued in the loop (200
keep-alive connections: p99 11.2 s, 127 waited over 10 s), and a 100 MB body was read and
parsed in full. BentoML's own `traffic.max_concurrency` answers 429 without Retry-After and
counts only requests that already run, which with synchronous handlers is about one, so it
never sheds. Here each request first registers and yields once to the loop: every request
already waiting registers before any of them works, so `active` is the real queue length.
Beyond `max_concurrency`, or after `max_queue_seconds` spent waiting for its turn, a request
gets 503 with Retry-After at once (cheap: no parsing). Cost per admitted request: one loop
round (~20 us).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from serving.middleware import App, Receive, Scope, Send, replay_body, send_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    max_concurrency: int
    max_queue_seconds: float
    retry_after_seconds: int
    max_body_bytes: int


class TooLarge(Exception):
    """The body passed max_body_bytes while being read."""


class RequestGuard:
    """Sheds load (503 + Retry-After) and refuses oversized (413) or non-JSON (415) bodies
    on PATHS; LIMITS is read per request (None: pass everything, the service is starting).
    ON_SHED(reason) counts refusals (a Prometheus counter in the service)."""

    def __init__(
        self,
        app: App,
        paths: frozenset[str],
        limits: Callable[[], Limits | None],
        on_shed: Callable[[str], object] | None = None,
    ) -> None:
        self.app, self.paths, self.limits, self.on_shed = app, paths, limits, on_shed
        self.active = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lim = self.limits() if scope["type"] == "http" else None
        if lim is None or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        if self.active >= lim.max_concurrency:
            await self._shed(send, lim, "concurrency")
            return
        self.active += 1
        try:
            queued = time.monotonic()
            await asyncio.sleep(0)  # let every request already waiting register first
            if time.monotonic() - queued > lim.max_queue_seconds:
                await self._shed(send, lim, "queue")
                return
            await self._checked(scope, receive, send, lim)
        finally:
            self.active -= 1

    async def _checked(self, scope: Scope, receive: Receive, send: Send, lim: Limits) -> None:
        headers = dict(scope.get("headers") or [])
        if scope.get("method") == "POST":
            media = headers.get(b"content-type", b"application/json").split(b";")[0].strip()
            if media.lower() != b"application/json":
                body = {
                    "error": f"Content-Type {media.decode('latin-1')!r} is not supported; "
                    "send a JSON body with Content-Type: application/json",
                    "field": "Content-Type",
                }
                await send_json(send, 415, body)
                return
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > lim.max_body_bytes:
            await _too_large(send, int(length), lim)
            return
        if length is None and scope.get("method") == "POST":  # chunked: read it, bounded
            try:
                receive = await _bounded(receive, lim.max_body_bytes)
            except TooLarge:
                await _too_large(send, None, lim)
                return
        await self.app(scope, receive, send)

    async def _shed(self, send: Send, lim: Limits, reason: str) -> None:
        if self.on_shed is not None:
            self.on_shed(reason)
        body = {"error": "the service is at capacity; retry after the Retry-After seconds"}
        retry = [(b"retry-after", str(lim.retry_after_seconds).encode())]
        await send_json(send, 503, body, retry)


async def _too_large(send: Send, size: int | None, lim: Limits) -> None:
    given = f"{size:,} bytes" if size is not None else "the body"
    body = {
        "error": f"request body: {given} exceeds the limit of {lim.max_body_bytes:,} bytes "
        "(serving.max_body_bytes); send fewer ids per request",
        "field": "body",
    }
    await send_json(send, 413, body)


async def _bounded(receive: Receive, limit: int) -> Receive:
    """Read a body of unknown length up to LIMIT bytes (TooLarge beyond); replay it once."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return replay_body(b"".join(chunks), receive)
