"""The operator page with serving.api_key set: refused without the key, opened by its form.

Its own module: the service app is one per process, and a second TestClient lifespan open at
the same time as test_ui's module client would shut that client's service instance down."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from configs.workspace import Workspace
from tests.serving.test_service import _app

pytestmark = pytest.mark.integration


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
        assert "s3cret" not in ok.headers["set-cookie"]  # a digest of the key is kept
        assert c.get("/ui/api/groups").status_code == 200  # the cookie the form set
        assert c.get("/ui/").status_code == 200
        assert c.post("/push_lists", json={"group_ids": ["g0"]}).status_code == 401  # API: Bearer
        c.cookies.clear()
        c.cookies.set("grouppush_ui_key", "s3cret")  # the raw key is not a valid cookie
        assert c.get("/ui/api/groups").status_code == 401
