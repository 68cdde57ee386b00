"""The BentoML service: wires HTTP to the handlers on the current snapshot, nothing more.

Run: `GROUPPUSH_WORKSPACE=DIR bentoml serve serving.service:GroupPush --port 3000`.
Settings: configs.settings.load_settings(preset=$GROUPPUSH_PRESET) (+ GROUPPUSH__* env vars).
Health: /livez /healthz (liveness), /readyz (snapshot loaded); metrics: /metrics; OpenAPI:
/docs.json. /readyz answers JSON: the live snapshot's version and the registry's state (an
unreadable registry keeps the live snapshot: metric grouppush_registry_up). Requests beyond
serving.max_concurrency get 503 + Retry-After (serving.guards). With serving.api_key set,
every other path needs `Authorization: Bearer <key>`.
JSON POSTs to /push_lists are answered by serving.fastpath (same contract, less CPU per
request) unless serving.fast_push_path is false.
The snapshot is built by a child process and mapped from files (serving.snapshot_store), so a
reload never holds two built snapshots in the worker's heap.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import bentoml
from pydantic import ValidationError
from starlette.responses import JSONResponse, Response

from configs.settings import ServingSettings, Settings, load_settings, secret_value
from configs.workspace import remembered_preset, resolve_workspace
from serving import handlers
from serving.fastpath import Handle, PushListFastPath, validation_error_body
from serving.feedback import feedback_log
from serving.feedback_live import FeedbackTracker
from serving.feedback_metrics import MetricsPublisher, count_events
from serving.guards import Limits, RequestGuard, quiet_rejections
from serving.middleware import ApiKeyMiddleware, ReadinessMiddleware, ValidationStatusMiddleware
from serving.openapi import OpenApiMiddleware
from serving.schemas import (
    FeedbackRequest,
    FeedbackResponse,
    PushListRequest,
    PushListResponse,
    RepurchaseResponse,
    SegmentsResponse,
    UsersRequest,
    limit_error,
)
from serving.ui.app import UiContext, create_app

API_PATHS = frozenset({"/push_lists", "/repurchase_scores", "/segments", "/feedback"})
_ACTIVE: dict[str, Any] = {}  # the live instance's settings and snapshot holder (middlewares)


def service_settings() -> Settings:
    """Settings of the service: $GROUPPUSH_PRESET, else the preset the workspace was simulated
    with (as the CLI does), then GROUPPUSH__* env vars."""
    preset = os.environ.get("GROUPPUSH_PRESET") or remembered_preset(resolve_workspace(None).root)
    return load_settings(preset=preset or None)


def _api_key() -> str | None:
    settings = _ACTIVE.get("settings")
    return secret_value(settings.serving.api_key) if settings is not None else None


def _serving_settings() -> ServingSettings | None:
    settings = _ACTIVE.get("settings")
    return settings.serving if settings is not None else None


def _limits() -> Limits | None:
    return _ACTIVE.get("limits")


def _readiness() -> dict[str, Any] | None:
    """/readyz detail: the live snapshot's version and the registry's state."""
    holder = _ACTIVE.get("holder")
    if holder is None:
        return None
    snap = holder.current
    return {
        "as_of": str(snap.as_of),
        "model_version": snap.model_version,
        "snapshot": snap.fingerprint,
        "registry": holder.health.detail(),
    }


@functools.cache
def _metrics() -> dict[str, Any]:
    """Prometheus metrics, created once per process (after BentoML set its multiprocess dir)."""
    import prometheus_client as prom

    return {
        "registry_up": prom.Gauge(
            "grouppush_registry_up",
            "1 when the last champion check read the MLflow registry, 0 while it fails "
            "(the live snapshot is kept)",
            multiprocess_mode="livemin",
        ),
        "registry_failures": prom.Counter(
            "grouppush_registry_failures", "Champion checks that could not read the registry"
        ),
        "shed": prom.Counter(
            "grouppush_requests_shed", "Requests answered 503 by load shedding", ["reason"]
        ),
    }


def _registry_seen(up: bool, _reason: str | None) -> None:
    metrics = _metrics()
    metrics["registry_up"].set(1 if up else 0)
    if not up:
        metrics["registry_failures"].inc()


def _shed(reason: str) -> None:
    _metrics()["shed"].labels(reason=reason).inc()


def _fast_push_lists(body: bytes) -> tuple[int, bytes]:
    """POST /push_lists for the fast path: validate, answer, serialise (as the endpoint does)."""
    settings, holder = _ACTIVE["settings"], _ACTIVE["holder"]
    try:
        req = PushListRequest.model_validate_json(body)
    except ValidationError as exc:
        return 422, validation_error_body(exc)
    status, out = handlers.push_lists(holder.current, req, settings)
    return status, out if isinstance(out, bytes) else out.model_dump_json().encode()


def _ui_context() -> UiContext | None:
    """The operator page's view of the live instance (None until it has started)."""
    settings, holder = _ACTIVE.get("settings"), _ACTIVE.get("holder")
    if settings is None or holder is None:
        return None
    return UiContext(settings, resolve_workspace(None), holder.current, _ACTIVE.get("tracker"))


def _fast_handle() -> Handle | None:
    settings = _ACTIVE.get("settings")
    if settings is None or "holder" not in _ACTIVE or not settings.serving.fast_push_path:
        return None
    return _fast_push_lists


def _reply(answer: handlers.JsonAnswer) -> Any:
    status, body = answer
    if isinstance(body, bytes):  # already serialised (the declared response model's shape)
        return Response(body, status_code=status, media_type="application/json")
    if status == 200:
        return body
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


@bentoml.service(
    name="grouppush",
    traffic={"timeout": 60},
    # worker processes (each holds its own snapshot): a deploy knob read when the service
    # module is imported, since BentoML fixes it at class definition
    workers=int(os.environ.get("GROUPPUSH_SERVE_WORKERS", "1")),
    logging={"access": {"enabled": False}},  # per-request log lines cost more than the scoring
    # BentoML records OpenTelemetry spans even at sample rate 0 (4 per request, ~0.2 ms of
    # CPU); the hot path goes without, the other endpoints keep them
    tracing={"excluded_urls": ["/push_lists"]},
)
class GroupPush:
    def __init__(self) -> None:
        from serving.loader import feature_marker, safe_champion_versions
        from serving.registry_health import RegistryHealth
        from serving.reload import SnapshotHolder
        from serving.snapshot_store import load_isolated, prune_snapshots

        quiet_rejections()  # a client's bad request: one log line, not a traceback
        self.settings = service_settings()
        _ACTIVE["settings"] = self.settings
        cfg = self.settings.serving
        _ACTIVE["limits"] = Limits(
            cfg.max_concurrency, cfg.max_queue_seconds, cfg.retry_after_seconds, cfg.max_body_bytes
        )
        self.ws = resolve_workspace(None)
        ws, settings = self.ws, self.settings
        # fed-back pushes count toward the cap at once; outcomes feed /metrics
        self.feedback_log = feedback_log(ws, settings.features)
        self.tracker = FeedbackTracker(self.feedback_log, settings.serving)
        _ACTIVE["tracker"] = self.tracker  # the operator page's online conversion
        self.holder = SnapshotHolder(
            # built in a child process, arrays mapped from files: a reload's build never
            # shares the worker's memory with the live snapshot (DESIGN.md section 9)
            loader=lambda: load_isolated(ws, settings),
            marker=lambda: (
                safe_champion_versions(ws.mlflow_tracking_uri),
                feature_marker(ws, settings.features),
            ),
            interval_seconds=settings.serving.reload_interval_seconds,
            retire=lambda current: prune_snapshots(ws, current),
            health=RegistryHealth(_registry_seen),
            startup_wait_seconds=cfg.registry_wait_seconds,
            adjust=self.tracker.adjust,
            tick=self._feedback_tick,
        )
        self.holder.start()
        _ACTIVE["holder"] = self.holder
        self._metrics = MetricsPublisher(lambda: self.tracker.evaluation(self.holder.current))
        self._metrics.request(bool(self.tracker.evaluation_events()))

    @bentoml.on_shutdown
    def shutdown(self) -> None:
        if _ACTIVE.get("holder") is self.holder:
            del _ACTIVE["holder"]  # the fast path hands over to BentoML until the next start
        self.holder.stop()
        from serving.snapshot_store import prune_snapshots

        prune_snapshots(self.ws, None)  # this worker's folders (mappings stay readable)

    def __is_ready__(self) -> bool:
        return self.holder.current is not None

    @bentoml.api(input_spec=PushListRequest, route="/push_lists")
    async def push_lists(self, **req: Any) -> PushListResponse:
        """Ranked slow-moving products per group with the members to target and why."""
        # async on purpose: a few ms of numpy on the event loop beats a thread hop + GIL
        # hand-over per request (measured: sequential p50 and req/s both improve)
        return _reply(  # type: ignore[no-any-return]
            handlers.push_lists(
                self.holder.current, PushListRequest.model_construct(**req), self.settings
            )
        )

    @bentoml.api(input_spec=UsersRequest, route="/repurchase_scores")
    def repurchase_scores(self, user_ids: list[str]) -> RepurchaseResponse:
        """Per-user probability of ordering again within the horizon."""
        answer = handlers.repurchase_scores(self.holder.current, user_ids, self.settings)
        return _reply(answer)  # type: ignore[no-any-return]

    @bentoml.api(input_spec=UsersRequest, route="/segments")
    def segments(self, user_ids: list[str]) -> SegmentsResponse:
        """Per-user tags and segments."""
        answer = handlers.segments(self.holder.current, user_ids, self.settings)
        return _reply(answer)  # type: ignore[no-any-return]

    @bentoml.api(input_spec=FeedbackRequest, route="/feedback")
    def feedback(self, events: list[Any], idempotency_key: str | None = None) -> FeedbackResponse:
        """Push outcomes appended durably (flushed + fsynced) for retraining; a retry with the
        same idempotency_key is answered without storing the events again."""
        if err := limit_error("events", len(events), self.settings.serving):
            return _reply(err)  # type: ignore[no-any-return]
        version = self.holder.current.model_version  # unless the caller echoes the push list's
        rows = [
            {**e.model_dump(mode="json"), "model_version": e.model_version or version}
            for e in events
        ]
        if idempotency_key is None:
            accepted, replayed = self.feedback_log.append(rows), False
        else:
            accepted, replayed = self.feedback_log.append_once(idempotency_key, rows)
        if replayed:  # nothing new stored: nothing new to count
            return FeedbackResponse(accepted=accepted, replayed=True)
        count_events(rows)
        self._feedback_tick()
        return FeedbackResponse(accepted=accepted)

    def _feedback_tick(self) -> None:
        """Read new feedback (this worker's, other workers', other replicas'): new pushes cap
        their members from now on; the evaluation gauges follow."""
        events, pushes = self.tracker.catch_up()
        if pushes:
            self.holder.refresh()
        if hasattr(self, "_metrics"):  # the first tick runs while the holder starts
            self._metrics.request(events > 0)


# first added = outermost: shed load and refuse oversized/non-JSON bodies before anything
GroupPush.add_asgi_middleware(RequestGuard, paths=API_PATHS, limits=_limits, on_shed=_shed)  # type: ignore[attr-defined]
GroupPush.add_asgi_middleware(ReadinessMiddleware, detail=_readiness)  # type: ignore[attr-defined]
GroupPush.add_asgi_middleware(OpenApiMiddleware, settings=_serving_settings, paths=API_PATHS)  # type: ignore[attr-defined]
GroupPush.add_asgi_middleware(ValidationStatusMiddleware, paths=API_PATHS)  # type: ignore[attr-defined]
GroupPush.add_asgi_middleware(ApiKeyMiddleware, key=_api_key)  # type: ignore[attr-defined]
# added after (inside) the API-key check; BentoML's metrics, tracing and
# timeout middlewares wrap every user middleware
# the operator page (serving.ui): its own key check (a cookie set by its key form, or Bearer)
GroupPush.mount_asgi_app(create_app(_ui_context), path="/ui")  # type: ignore[attr-defined]
GroupPush.add_asgi_middleware(PushListFastPath, handle=_fast_handle)  # type: ignore[attr-defined]
