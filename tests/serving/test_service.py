"""The BentoML service through its ASGI app (Starlette TestClient): contract, errors, auth."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from configs.workspace import Workspace
from serving.feedback import read_feedback

pytestmark = pytest.mark.integration


@functools.cache
def _app():  # type: ignore[no-untyped-def]
    """One ASGI app per process (BentoML registers Prometheus metrics once); each
    `with TestClient(...)` runs its lifespan, so the service instance re-reads the env."""
    from serving.service import GroupPush

    return GroupPush.to_asgi()


def _client() -> TestClient:
    return TestClient(_app(), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(service_env: Workspace) -> Iterator[TestClient]:
    with _client() as c:
        yield c


def test_push_lists_happy_path(client: TestClient) -> None:
    r = client.post(
        "/push_lists",
        json={"group_ids": ["g0", "g1", "nope"], "top_k": 5, "members_per_product": 10},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["as_of"] == "2025-12-01"
    assert "repurchase:1" in body["model_version"] and "interest:1" in body["model_version"]
    assert body["unknown_group_ids"] == ["nope"]
    g0 = body["groups"][0]
    assert g0["group_id"] == "g0" and g0["stage"] == "mid"
    assert 0 < len(g0["items"]) <= 5
    item = g0["items"][0]
    assert {"product_id", "category_id", "score", "expected_buyers", "members"} <= set(item)
    assert 0 < len(item["members"]) <= 10 and item["members"][0]["reasons"]
    buyers = [it["expected_buyers"] for it in g0["items"]]
    assert buyers == sorted(buyers, reverse=True)


def test_zombie_group_answer(client: TestClient) -> None:
    r = client.post("/push_lists", json={"group_ids": ["g3"]})
    g = r.json()["groups"][0]
    assert g["stage"] == "zombie" and not g["items"] and g["warnings"]
    assert g["suggested_group_id"] in {"g0", "g1", "g2"}


def test_validation_error_is_422_naming_the_field(client: TestClient) -> None:
    r = client.post("/push_lists", json={"group_ids": ["g0"], "top_k": "many"})
    assert r.status_code == 422
    assert "top_k" in r.text
    r = client.post("/push_lists", json={"group_ids": []})
    assert r.status_code == 422 and "group_ids" in r.text
    r = client.post(
        "/feedback",
        json={
            "events": [
                {"group_id": "g0", "product_id": "p1", "event": "liked", "at": "2025-12-01T00:00"}
            ]
        },
    )
    assert r.status_code == 422 and "event" in r.text


def test_oversized_lists_and_counts(client: TestClient) -> None:
    r = client.post("/push_lists", json={"group_ids": [f"g{i}" for i in range(51)]})
    assert r.status_code == 413 and r.json()["field"] == "group_ids"
    r = client.post("/push_lists", json={"group_ids": ["g0"], "top_k": 101})
    assert r.status_code == 422 and r.json()["field"] == "top_k"
    r = client.post("/repurchase_scores", json={"user_ids": ["u1"] * 5001})
    assert r.status_code == 413


def test_unknown_ids_only_is_404(client: TestClient) -> None:
    r = client.post("/push_lists", json={"group_ids": ["x", "y"]})
    assert r.status_code == 404 and r.json()["unknown_ids"] == ["x", "y"]
    r = client.post("/repurchase_scores", json={"user_ids": ["nobody"]})
    assert r.status_code == 404 and r.json()["field"] == "user_ids"
    r = client.post("/push_lists", json={"group_ids": ["g0"], "product_ids": ["zz"]})
    assert r.status_code == 404 and r.json()["field"] == "product_ids"


def test_repurchase_segments_and_feedback(client: TestClient, service_env: Workspace) -> None:
    r = client.post("/repurchase_scores", json={"user_ids": ["u1", "u2", "ghost"]})
    assert r.status_code == 200
    body = r.json()
    assert [s["user_id"] for s in body["scores"]] == ["u1", "u2"]
    assert all(0 <= s["repurchase_prob"] <= 1 for s in body["scores"])
    assert body["unknown_user_ids"] == ["ghost"] and body["model_version"] == "repurchase:1"
    r = client.post("/segments", json={"user_ids": ["u1"]})
    assert r.status_code == 200 and r.json()["users"][0]["tags"]
    before = len(read_feedback(service_env.feedback))
    event = {
        "push_id": "x1",
        "group_id": "g0",
        "user_id": "u1",
        "product_id": "p1",
        "event": "clicked",
        "at": "2025-12-01T10:00:00Z",
    }
    r = client.post("/feedback", json={"events": [event, {**event, "event": "ordered"}]})
    assert r.status_code == 200 and r.json()["accepted"] == 2
    rows = read_feedback(service_env.feedback)
    assert len(rows) == before + 2 and rows[-1]["event"] == "ordered"


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200
    paths = client.get("/docs.json").json()["paths"]
    assert {"/push_lists", "/repurchase_scores", "/segments", "/feedback"} <= set(paths)
