"""GroupPush's own OpenAPI document at /docs.json: title, version and description of the
service instead of BentoML's template text (its README stub, "version": "None" outside a
Bento, its own contact). Paths and schemas stay BentoML's, generated from serving.schemas,
whose field descriptions carry the API contract."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata
from typing import Any

from configs.workspace import REPO_ROOT
from serving.middleware import App, Receive, Scope, Send

TITLE = "GroupPush"
DESCRIPTION = (
    "Push lists of slow-moving products for community-group commerce: for each group, the "
    "products to push ranked by expected buyers, the members to target and why (tags). Also "
    "per-user repurchase probabilities, tags and segments, and a feedback endpoint for push "
    "outcomes (pushed / clicked / ordered). Errors are 4xx with a JSON body naming the field; "
    "404 lists unknown ids; 401 when an API key is configured and missing or wrong; lists "
    "past their configured limits get 413. Models: the MLflow registry's `champion` aliases; "
    "features: the Feast feature store of the workspace."
)
DOCS_PATH = "/docs.json"


def project_version() -> str:
    """The grouppush package version; in a Bento (sources only, not installed) the version in
    the pyproject.toml the Bento carries."""
    try:
        return metadata.version("grouppush")
    except metadata.PackageNotFoundError:
        pass
    pyproject = REPO_ROOT / "pyproject.toml"
    if pyproject.exists():
        with pyproject.open("rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])
    return "unknown"


def branded(spec: dict[str, Any]) -> dict[str, Any]:
    """BentoML's generated document with GroupPush's info block."""
    info = {"title": TITLE, "version": project_version(), "description": DESCRIPTION}
    return {**spec, "info": info}


class OpenApiMiddleware:
    """Answers GET /docs.json with `branded(generate())`, built once per process."""

    def __init__(self, app: App, generate: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self._body = lru_cache(maxsize=1)(
            lambda: json.dumps(branded(generate()), ensure_ascii=False).encode("utf-8")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != DOCS_PATH or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        body = self._body()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
