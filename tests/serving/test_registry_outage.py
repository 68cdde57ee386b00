"""A registry that does not answer keeps the live snapshot (and says so); only a registry that
answers "no champion" means heuristic scores."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from configs.workspace import Workspace
from serving import models
from serving.loader import safe_champion_versions
from serving.registry_health import RegistryHealth, RegistryUnavailable
from serving.reload import SnapshotHolder
from tests.serving.conftest import point_env_at, register_champion, write_workspace
from tests.serving.test_service import _app


class _Snap:
    def __init__(self, name: str) -> None:
        self.fingerprint, self.extra = name, {}


def _uri(ws: Workspace) -> str:
    return f"sqlite:///{(ws.mlflow / 'mlflow.db').resolve()}"


class _FailingClient:
    """An MLflow client whose registry reads fail as a locked SQLite database does."""

    def get_model_version_by_alias(self, name: str, alias: str) -> object:
        from mlflow.exceptions import MlflowException

        raise MlflowException(
            "(sqlite3.OperationalError) database is locked", "TEMPORARILY_UNAVAILABLE"
        )


def test_holder_keeps_snapshot_while_registry_fails() -> None:
    state = {"fail": False, "marker": 1}

    def marker() -> object:
        if state["fail"]:
            raise RegistryUnavailable("database is locked")
        return state["marker"]

    seen: list[bool] = []
    health = RegistryHealth(lambda up, _reason: seen.append(up))
    holder = SnapshotHolder(lambda: _Snap(f"s{state['marker']}"), marker, 0, health=health)  # type: ignore[arg-type,return-value]
    assert holder.current.fingerprint == "s1" and health.up
    state.update(fail=True, marker=2)
    assert holder.check_now() is False
    assert holder.current.fingerprint == "s1"
    assert health.detail()["up"] is False and "locked" in health.detail()["error"]
    assert seen[-1] is False
    state["fail"] = False
    assert holder.check_now() is True and holder.current.fingerprint == "s2"
    assert health.detail() == {"up": True} and seen[-1] is True


def test_startup_retries_then_fails_with_one_line() -> None:
    def marker() -> object:
        raise RegistryUnavailable("database is locked")

    started = time.monotonic()
    with pytest.raises(RegistryUnavailable, match="registry_wait_seconds"):
        SnapshotHolder(lambda: _Snap("s"), marker, 0, startup_wait_seconds=0.3)  # type: ignore[arg-type,return-value]
    assert time.monotonic() - started < 5


def test_missing_champion_is_empty_but_failing_registry_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = write_workspace(tmp_path / "ws", n_users=60, n_cats=3, n_groups=1)
    register_champion(ws, "repurchase")  # no interest model registered at all
    assert safe_champion_versions(_uri(ws)) == {"repurchase": "1"}
    monkeypatch.setattr(models, "_client", lambda uri: _FailingClient())
    with pytest.raises(RegistryUnavailable, match="database is locked"):
        safe_champion_versions(_uri(ws))


@pytest.mark.integration
def test_service_keeps_champions_during_injected_outage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = write_workspace(tmp_path / "ws", n_users=120, n_cats=5, n_groups=2)
    register_champion(ws, "repurchase", seed=1)
    point_env_at(monkeypatch, ws, reload_seconds=0.1)
    with TestClient(_app(), raise_server_exceptions=False) as c:
        ready = c.get("/readyz").json()
        assert ready["registry"] == {"up": True} and "repurchase:1" in ready["model_version"]
        monkeypatch.setattr(models, "_client", lambda uri: _FailingClient())
        deadline = time.monotonic() + 20
        while c.get("/readyz").json()["registry"]["up"] and time.monotonic() < deadline:
            time.sleep(0.1)
        ready = c.get("/readyz")
        assert ready.status_code == 200 and ready.json()["registry"]["up"] is False
        answer = c.post("/push_lists", json={"group_ids": ["g0"], "top_k": 2})
        assert "repurchase:1" in answer.json()["model_version"]
        from serving.service import _metrics

        assert _metrics()["registry_up"]._value.get() == 0  # served at /metrics (real server)
        monkeypatch.undo()
        point_env_at(monkeypatch, ws, reload_seconds=0.1)
        deadline = time.monotonic() + 20
        while not c.get("/readyz").json()["registry"]["up"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert c.get("/readyz").json()["registry"] == {"up": True}


@pytest.mark.slow
@pytest.mark.integration
def test_locked_mlflow_db_during_reload_keeps_champions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fault run's case for real: mlflow.db locked (exclusive transaction) past MLflow's
    20 s busy timeout while the service checks for reloads; every answer keeps the champion
    (before the fix, answers switched to `repurchase:heuristic` within the minute)."""
    ws = write_workspace(tmp_path / "ws", n_users=120, n_cats=5, n_groups=2)
    register_champion(ws, "repurchase", seed=1)
    point_env_at(monkeypatch, ws, reload_seconds=0.2)
    with TestClient(_app(), raise_server_exceptions=False) as c:
        lock = sqlite3.connect(ws.mlflow / "mlflow.db", timeout=30, check_same_thread=False)
        lock.execute("BEGIN EXCLUSIVE")
        versions: list[str] = []
        try:
            # 120 s: past two 20 s busy timeouts (the reload check, then the build process's
            # lookup) and a build on a busy machine: time for the old code to swap in a
            # heuristic snapshot (it held on to `repurchase:1` for a 60 s lock at load 20)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                body = c.post("/push_lists", json={"group_ids": ["g0"], "top_k": 2}).json()
                versions.append(body["model_version"])
                time.sleep(0.2)
            ready = c.get("/readyz").json()
        finally:
            threading.Thread(target=lock.rollback).run()
            lock.close()
        assert ready["registry"]["up"] is False, ready
        assert "locked" in ready["registry"]["error"]
        assert versions and all("repurchase:1" in v for v in versions), set(versions)


def test_unpickling_allowed_only_while_loading_our_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(models.PICKLE_ENV, raising=False)
    ws = write_workspace(tmp_path / "ws", n_users=60, n_cats=3, n_groups=1)
    register_champion(ws, "repurchase")
    seen: list[str | None] = []
    import mlflow.sklearn

    real = mlflow.sklearn.load_model

    def spy(uri: str) -> object:
        import os

        seen.append(os.environ.get(models.PICKLE_ENV))
        return real(uri)

    monkeypatch.setattr(mlflow.sklearn, "load_model", spy)
    loaded = models.load_champions(_uri(ws))
    assert loaded["repurchase"].version == "1" and seen == ["true"]
    import os

    assert models.PICKLE_ENV not in os.environ
