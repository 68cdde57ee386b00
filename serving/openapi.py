"""GroupPush's own, true OpenAPI document at /docs.json.

- Info: GroupPush's title, version and description instead of BentoML's template text (its
  README stub, "version": "None" outside a Bento, its own contact). Paths and schemas stay
  BentoML's, generated from serving.schemas, whose field descriptions carry the API contract.
- Statuses and limits: BentoML documents every endpoint as 200/400/404/500 and the request
  models' hard ceilings (pydantic: 100,000 ids), but the service answers 401 (API key), 413
  (a list or the body over its configured limit), 415 (not JSON), 422 (validation) and 503
  (load shed, with Retry-After), and a preset or env var sets smaller limits.

The document is rewritten once per request for it (a rare, small request), from the live
settings.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from importlib import metadata
from typing import Any

from configs.settings import ServingSettings
from configs.workspace import REPO_ROOT
from serving.middleware import App, Message, Receive, Scope, Send

PATH = "/docs.json"
TITLE = "GroupPush"
DESCRIPTION = (
    "Push lists of slow-moving products for community-group commerce: for each group, the "
    "products to push ranked by expected buyers, the members to target and why (tags). Also "
    "per-user repurchase probabilities, tags and segments, and a feedback endpoint for push "
    "outcomes (pushed / clicked / ordered). Errors are 4xx with a JSON body naming the field; "
    "404 lists unknown ids; 401 when an API key is configured and missing or wrong; lists "
    "past their configured limits and oversized bodies get 413; a busy worker answers 503 "
    "with Retry-After. Models: the MLflow registry's `champion` aliases; features: the Feast "
    "feature store of the workspace."
)

ERROR = {"$ref": "#/components/schemas/ErrorBody"}
ERROR_SCHEMA = {
    "title": "ErrorBody",
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "field": {"type": "string", "nullable": True},
        "unknown_ids": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["error"],
}


def _statuses(cfg: ServingSettings) -> dict[str, str]:
    return {
        "401": "missing or invalid API key (only when serving.api_key is set)",
        "404": "none of the ids is known (the unknown ones are listed)",
        "413": f"a list over its configured limit, or a body over {cfg.max_body_bytes:,} bytes",
        "415": "the body is not application/json",
        "422": "the request does not validate (the field is named)",
        "503": "at capacity: retry after the Retry-After header's seconds",
    }


def _limits(cfg: ServingSettings) -> dict[str, dict[str, tuple[str, int]]]:
    """Request schema -> property -> (JSON Schema keyword, configured limit)."""
    return {
        "PushListRequest": {
            "group_ids": ("maxItems", cfg.max_group_ids),
            "top_k": ("maximum", cfg.max_top_k),
            "members_per_product": ("maximum", cfg.max_members_per_product),
            "product_ids": ("maxItems", cfg.max_product_ids),
        },
        "UsersRequest": {"user_ids": ("maxItems", cfg.max_user_ids)},
        "FeedbackRequest": {"events": ("maxItems", cfg.max_feedback_events)},
    }


def _set_limit(prop: dict[str, Any], keyword: str, limit: int) -> None:
    for variant in prop.get("anyOf", [prop]):  # optional lists: anyOf [array, null]
        if keyword in variant or variant.get("type") in ("array", "integer"):
            variant[keyword] = limit


def patch_openapi(doc: dict[str, Any], cfg: ServingSettings, paths: frozenset[str]) -> dict:
    """DOC with the real error statuses on PATHS and the configured limits in the schemas."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorBody"] = ERROR_SCHEMA
    for name, schema in schemas.items():
        base = name.removesuffix("IODescriptor")
        for prop_name, (keyword, limit) in _limits(cfg).get(base, {}).items():
            if prop_name in schema.get("properties", {}):
                _set_limit(schema["properties"][prop_name], keyword, limit)
        if base == "PushListRequest":
            schema["description"] = (
                f"group_ids x top_k x members_per_product may be at most "
                f"{cfg.max_response_members:,} (serving.max_response_members), else 413"
            )
    for path in paths:
        for op in doc.get("paths", {}).get(path, {}).values():
            responses = op.setdefault("responses", {})
            responses.pop("400", None)  # validation errors are answered 422
            for status, text in _statuses(cfg).items():
                answer: dict[str, Any] = {
                    "description": text,
                    "content": {"application/json": {"schema": ERROR}},
                }
                if status == "503":
                    answer["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
                responses.setdefault(status, answer)
    return doc


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
    """Rewrites the GET /docs.json answer: GroupPush's info block (branded) and the
    statuses and limits of the live SETTINGS (patch_openapi)."""

    def __init__(
        self, app: App, settings: Callable[[], ServingSettings | None], paths: frozenset[str]
    ) -> None:
        self.app, self.settings, self.paths = app, settings, paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cfg = self.settings() if scope["type"] == "http" else None
        if cfg is None or scope.get("path") != PATH:
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        if start.get("status") == 200:
            doc = branded(patch_openapi(json.loads(body), cfg, self.paths))
            body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})
