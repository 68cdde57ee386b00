"""The operator page's ASGI app, mounted on the BentoML service at /ui.

HTML shell + vanilla JS (serving/ui/static, nothing from a CDN) over JSON endpoints under
/ui/api that read the live snapshot. With serving.api_key set, a key form sets a cookie; every
page and endpoint but the form and the static files is refused (401) without it. The
cookie holds an HMAC of the key, not the key.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anyio import to_thread
from pydantic import ValidationError
from pydantic_core import to_json
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from configs.settings import Settings, secret_value
from configs.workspace import Workspace
from serving.schemas import PushListRequest
from serving.snapshot import Snapshot
from serving.ui import sources, views
from serving.ui.tables import UiTables, load_tables

STATIC = Path(__file__).parent / "static"
COOKIE = "grouppush_ui_key"
ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}


@dataclass(frozen=True)
class UiContext:
    """What the page reads: the service's settings, workspace and current snapshot, and the
    worker's feedback tracker (online conversion per model version; None: not tracked)."""

    settings: Settings
    ws: Workspace
    snapshot: Snapshot | None
    tracker: Any = None  # serving.feedback_live.FeedbackTracker


class _PerSnapshot:
    """Side tables and page data computed once per snapshot (a reload swaps them)."""

    def __init__(self) -> None:
        self.snap: Snapshot | None = None
        self.values: dict[str, Any] = {}
        self.lock = asyncio.Lock()

    async def get(self, snap: Snapshot, name: str, build: Callable[[], Any]) -> Any:
        async with self.lock:
            if self.snap is not snap:
                self.snap, self.values = snap, {}
            if name not in self.values:
                self.values[name] = await to_thread.run_sync(build)
            return self.values[name]


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


def cookie_token(key: str) -> str:
    """What the cookie holds: a digest of the key, so the browser never stores the key."""
    return hmac.new(key.encode("utf-8"), b"grouppush-ui", hashlib.sha256).hexdigest()


def _authorized(request: Request, key: str | None) -> bool:
    if not key:
        return True
    cookie = request.cookies.get(COOKIE, "").encode("utf-8")
    bearer = request.headers.get("authorization", "").encode("utf-8")
    return hmac.compare_digest(cookie, cookie_token(key).encode()) or hmac.compare_digest(
        bearer, b"Bearer " + key.encode("utf-8")
    )


def _login_page(request: Request, message: str, status: int) -> HTMLResponse:
    html = (STATIC / "login.html").read_text(encoding="utf-8")
    html = html.replace("{{base}}", request.scope.get("root_path", "")).replace(
        "{{message}}", message
    )
    return HTMLResponse(html, status_code=status)


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"query parameter {name}: {raw!r} is not an integer") from None


def create_app(context: Callable[[], UiContext | None]) -> Starlette:
    """The /ui app reading CONTEXT() on every request (the service's live state)."""
    cache = _PerSnapshot()

    def ready(request: Request, api: bool = True) -> tuple[UiContext, Snapshot] | Response:
        ctx = context()
        if ctx is None or not _authorized(request, secret_value(ctx.settings.serving.api_key)):
            if api:
                return _error(401, "missing or invalid API key", "Authorization")
            return _login_page(request, "This page needs the service's API key.", 401)
        if ctx.snapshot is None:
            return _error(503, "the snapshot is still loading; retry in a few seconds")
        return ctx, ctx.snapshot

    async def tables(ctx: UiContext, snap: Snapshot) -> UiTables:
        return await cache.get(snap, "tables", lambda: load_tables(ctx.ws, snap, ctx.settings))  # type: ignore[no-any-return]

    async def page(request: Request) -> Response:
        got = ready(request, api=False)
        if isinstance(got, Response) and got.status_code != 503:
            return got  # the key form (the page itself shows a loading snapshot)
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return _error(404, f"no static file {name!r}")
        return FileResponse(STATIC / name, media_type=ASSETS[name])

    async def login(request: Request) -> Response:
        ctx = context()
        if request.method == "GET":
            return _login_page(request, "", 200)
        form = await request.form()
        given = str(form.get("key", ""))
        key = secret_value(ctx.settings.serving.api_key) if ctx else None
        if key and not hmac.compare_digest(given.encode("utf-8"), key.encode("utf-8")):
            return _login_page(request, "That key is not the service's API key.", 401)
        base = request.scope.get("root_path", "")
        out = RedirectResponse(f"{base}/", status_code=303)
        token = cookie_token(key) if key else ""
        out.set_cookie(COOKIE, token, httponly=True, samesite="strict", path=base or "/")
        return out

    async def api_groups(request: Request) -> Response:
        got = ready(request)
        if isinstance(got, Response):
            return got
        q = request.query_params
        try:
            limit = _int_param(request, "limit", views.MAX_ROWS)
        except ValueError as exc:
            return _error(422, str(exc), "limit")
        body = views.groups_payload(
            await tables(*got), q.get("q", ""), q.get("stage", ""), q.get("type", ""), limit
        )
        return JSONResponse(body)

    async def api_group(request: Request) -> Response:
        got = ready(request)
        if isinstance(got, Response):
            return got
        ctx, snap = got
        gid = request.path_params["group_id"]
        try:
            req = PushListRequest(
                group_ids=[gid],
                top_k=_int_param(request, "top_k", 10),
                members_per_product=_int_param(request, "members_per_product", 20),
            )
        except (ValueError, ValidationError) as exc:
            msg = str(exc).splitlines()[0] if not isinstance(exc, ValidationError) else None
            if isinstance(exc, ValidationError):
                e = exc.errors()[0]
                msg = f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
            return _error(422, msg or "bad query parameter")
        status, body = views.group_payload(snap, ctx.settings, await tables(ctx, snap), req)
        return Response(to_json(body), status_code=status, media_type="application/json")

    async def api_models(request: Request) -> Response:
        got = ready(request)
        if isinstance(got, Response):
            return got
        ctx, snap = got
        versions = dict(snap.model_versions)

        def build() -> dict[str, Any]:
            registry = sources.registry_details(ctx.ws.mlflow_tracking_uri, versions)
            return views.models_payload(snap, sources.read_metrics(ctx.ws), registry)

        def online() -> dict[str, Any]:  # live: feedback keeps arriving between reloads
            rows = None if ctx.tracker is None else sources.online_conversion(ctx.tracker, snap)
            return views.online_payload(rows, ctx.settings.serving.feedback_metrics_days)

        body = await cache.get(snap, "models", build)
        return JSONResponse(body | {"online": await to_thread.run_sync(online)})

    async def api_data(request: Request) -> Response:
        got = ready(request)
        if isinstance(got, Response):
            return got
        ctx, snap = got

        def build() -> tuple[dict[str, int | None], dict[str, dict[str, int]]]:
            return sources.feature_rows(ctx.ws), sources.quarantine_counts(ctx.ws)

        rows, quarantine = await cache.get(snap, "data", build)
        body = views.data_payload(snap, ctx.settings, rows, quarantine)
        exported = await to_thread.run_sync(sources.read_segments, ctx.ws)  # small; live
        return JSONResponse(body | {"exported_segments": views.exported_segments(exported)})

    async def report(request: Request) -> Response:
        got = ready(request)
        if isinstance(got, Response):
            return got
        path = got[0].ws.reports / "evaluation.html"
        if not path.exists():
            return _error(404, "no evaluation report yet; run `grouppush evaluate`")
        return FileResponse(path, media_type="text/html")

    routes = [
        Route("/", page),
        Route("/groups/{group_id}", page),
        Route("/models", page),
        Route("/data", page),
        Route("/static/{name}", asset),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/report", report),
        Route("/api/groups", api_groups),
        Route("/api/groups/{group_id}", api_group),
        Route("/api/models", api_models),
        Route("/api/data", api_data),
    ]
    return Starlette(routes=routes)
