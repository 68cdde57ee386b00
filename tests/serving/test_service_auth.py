"""API key: with serving.api_key set, every endpoint but health needs the Bearer token."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from configs.workspace import Workspace
from tests.serving.test_service import _app

pytestmark = pytest.mark.integration


def test_api_key_required_when_configured(
    service_env: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROUPPUSH__SERVING__API_KEY", "s3cret")
    with TestClient(_app(), raise_server_exceptions=False) as c:
        assert c.post("/push_lists", json={"group_ids": ["g0"]}).status_code == 401
        bad = {"Authorization": "Bearer nope"}
        assert c.post("/push_lists", json={"group_ids": ["g0"]}, headers=bad).status_code == 401
        good = {"Authorization": "Bearer s3cret"}
        assert c.post("/push_lists", json={"group_ids": ["g0"]}, headers=good).status_code == 200
        assert c.get("/livez").status_code == 200
        assert c.get("/docs.json").status_code == 401
    monkeypatch.delenv("GROUPPUSH__SERVING__API_KEY")
    with TestClient(_app(), raise_server_exceptions=False) as c:  # no key configured
        assert c.post("/push_lists", json={"group_ids": ["g0"]}).status_code == 200
