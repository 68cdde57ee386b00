"""The operator page's JSON and HTML through the service's ASGI app (serving.ui)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from configs.workspace import Workspace
from tests.serving.test_service import _app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ui(service_env: Workspace) -> Iterator[TestClient]:
    with TestClient(_app(), raise_server_exceptions=False) as c:
        yield c


def _ids(push: dict) -> list[tuple[str, list[str]]]:
    return [(i["product_id"], [m["user_id"] for m in i["members"]]) for i in push["items"]]


def test_group_page_shows_the_push_list_of_the_api(ui: TestClient) -> None:
    rows = ui.get("/ui/api/groups", params={"q": "G1"}).json()
    assert [r["group_id"] for r in rows["rows"]] == ["g1"] and rows["total"] == 4
    row = rows["rows"][0]
    assert row["members"] > 0 and row["stage"] and row["group_type"]
    page = ui.get("/ui/api/groups/g1").json()
    api = ui.post("/push_lists", json={"group_ids": ["g1"]}).json()["groups"][0]
    assert page["push_list"]["items"], "the tiny workspace must push something to g1"
    assert _ids(page["push_list"]) == _ids(api)
    assert page["group"] == row
    targeted = {m for _, ms in _ids(api) for m in ms}
    assert {m["user_id"] for m in page["members"] if m["targeted"]} == targeted
    assert all(isinstance(m["tags"], list) for m in page["members"])
    assert ui.get("/ui/api/groups", params={"stage": "nope"}).json()["matched"] == 0


def test_pages_assets_and_bad_requests(ui: TestClient) -> None:
    for path in ("/ui/", "/ui/groups/g0", "/ui/models", "/ui/data"):
        r = ui.get(path)
        assert r.status_code == 200 and "app.js" in r.text, path
    assert ui.get("/ui/static/app.js").headers["content-type"].startswith("text/javascript")
    assert ui.get("/ui/static/../service.py").status_code == 404
    assert ui.get("/ui/api/groups/nope").status_code == 404
    bad = ui.get("/ui/api/groups/g0", params={"top_k": "x"})
    assert bad.status_code == 422 and "top_k" in bad.json()["error"]
    assert ui.get("/ui/api/groups/g0", params={"top_k": 0}).status_code == 422
    models = ui.get("/ui/api/models").json()
    assert [m["kind"] for m in models["models"]] == ["repurchase", "interest"]
    assert models["models"][0]["registry"]["version"] == models["models"][0]["serving_version"]
    data = ui.get("/ui/api/data").json()
    assert data["feature_rows"]["group_stats"] == 4 and data["snapshot"]["groups"] == 4
    assert data["segments"] and data["features_as_of"]


def test_zombie_group_page_lists_the_members_to_move(ui: TestClient) -> None:
    page = ui.get("/ui/api/groups/g3").json()  # the synthetic workspace's zombie group
    api = ui.post("/push_lists", json={"group_ids": ["g3"]}).json()["groups"][0]
    assert page["group"]["stage"] == "zombie" and page["push_list"]["move_members"]
    assert page["push_list"]["suggested_group_id"] == api["suggested_group_id"]
    moved = [m["user_id"] for m in page["push_list"]["move_members"]]
    assert moved == [m["user_id"] for m in api["move_members"]]
