"""One round trip through a real `bentoml serve` subprocess on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from configs.workspace import Workspace
from grouppush.runner import free_port, start_service, stop_service, wait_ready

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def base_url(serving_ws: Workspace) -> Iterator[str]:
    port = free_port()
    env = {"GROUPPUSH__SERVING__RELOAD_INTERVAL_SECONDS": "0"}
    proc = start_service(serving_ws, "127.0.0.1", port, env, serving_ws.root / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, timeout=300)
        yield url
    finally:
        stop_service(proc)


def test_push_lists_over_http(base_url: str) -> None:
    import bentoml

    with bentoml.SyncHTTPClient(base_url, server_ready_timeout=60) as client:
        body = client.push_lists(group_ids=["g0"], top_k=3, members_per_product=5)
    body = body if isinstance(body, dict) else body.model_dump(mode="json")
    assert body["groups"][0]["group_id"] == "g0"
    assert 0 < len(body["groups"][0]["items"]) <= 3
    assert body["model_version"]


def test_errors_health_and_metrics_over_http(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as c:
        assert c.post("/push_lists", json={"group_ids": "g0"}).status_code == 422
        assert c.post("/push_lists", json={"group_ids": ["nope"]}).status_code == 404
        assert c.get("/healthz").status_code == 200
        metrics = c.get("/metrics")
        assert metrics.status_code == 200 and "bentoml_service_request" in metrics.text
        # the /push_lists fast path (serving.fastpath) runs inside BentoML's metrics middleware
        counted = 'bentoml_service_request_total{endpoint="/push_lists",http_response_code="404"'
        assert counted in metrics.text
