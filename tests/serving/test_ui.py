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


def test_page_refused_without_the_key(
    service_env: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROUPPUSH__SERVING__API_KEY", "s3cret")
    with TestClient(_app(), raise_server_exceptions=False) as c:
        page = c.get("/ui/groups/g0")
        assert page.status_code == 401 and 'name="key"' in page.text and "g0" not in page.text
        assert c.get("/ui/api/groups").status_code == 401
        assert c.get("/ui/api/groups/g0").status_code == 401
        assert c.post("/ui/login", data={"key": "nope"}).status_code == 401
        assert c.get("/ui/api/groups").status_code == 401
        bearer = {"Authorization": "Bearer s3cret"}
        assert c.get("/ui/api/groups", headers=bearer).status_code == 200
        ok = c.post("/ui/login", data={"key": "s3cret"}, follow_redirects=False)
        assert ok.status_code == 303 and ok.headers["location"] == "/ui/"
        assert c.get("/ui/api/groups").status_code == 200  # the cookie the form set
        assert c.get("/ui/").status_code == 200
        assert c.post("/push_lists", json={"group_ids": ["g0"]}).status_code == 401  # API: Bearer
