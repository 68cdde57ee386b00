"""The `feast` CLI works on a built workspace: `features build` writes feature_store.yaml next
to the workspace's registry, so `feast -c <ws>/features/feast ...` lists its views and
services and `feast materialize` fills its online store, without a second registry."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from configs.settings import Settings
from configs.workspace import Workspace
from features.store.catalog import INTEREST_SERVICE, PUSH_SERVICE, REPURCHASE_SERVICE, TABLES
from tests.features.feature_data import AS_OF

pytestmark = pytest.mark.integration


def _feast(ws: Workspace, *args: str) -> str:
    """Run the feast CLI of this environment in a subprocess; its stdout (fails loudly)."""
    exe = shutil.which("feast", path=str(Path(sys.executable).parent)) or "feast"
    env = {**os.environ, "FEAST_USAGE": "False"}
    done = subprocess.run(
        [exe, "-c", str(ws.feast), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        cwd=ws.root,  # not the repo: the CLI must need nothing but the workspace
    )
    assert done.returncode == 0, f"feast {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Settings]:
    from configs.settings import load_settings
    from configs.workspace import resolve_workspace
    from features.compute.build import build_features
    from tests.features.feature_data import random_tables, write_tables

    ws = resolve_workspace(tmp_path_factory.mktemp("feastcli") / "ws")
    write_tables(ws, random_tables())
    settings = load_settings("tiny", overrides={"training": {"n_snapshots": 2}})
    build_features(settings, ws, AS_OF, show_progress=False)
    return ws, settings


def _registries(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("registry*.db"))


def test_build_writes_the_workspace_feature_store_yaml(built: tuple[Workspace, Settings]) -> None:
    from features.store.feast_store import repo_config_dict

    ws, settings = built
    written = yaml.safe_load((ws.feast / "feature_store.yaml").read_text(encoding="utf-8"))
    assert written == repo_config_dict(ws, settings.features)
    assert written["registry"]["path"] == str(ws.feast_registry)


def test_feast_cli_lists_the_workspace_views_and_services(
    built: tuple[Workspace, Settings],
) -> None:
    ws, _ = built
    before = _registries(ws.root)
    views = _feast(ws, "feature-views", "list")
    for name in TABLES:
        assert name in views
    services = _feast(ws, "feature-services", "list")
    for name in (REPURCHASE_SERVICE, INTEREST_SERVICE, PUSH_SERVICE):
        assert name in services
    assert _registries(ws.root) == before == [ws.feast_registry]


def test_feast_materialize_fills_the_workspace_online_store(
    built: tuple[Workspace, Settings],
) -> None:
    ws, _ = built
    view = "group_stats"
    with sqlite3.connect(ws.feast_online) as con:
        table = f"grouppush_{view}"
        con.execute(f"DELETE FROM {table}")  # emptied, so only materialize can refill it
        con.commit()
    start, end = "2000-01-01T00:00:00", f"{AS_OF.isoformat()}T00:00:01"
    _feast(ws, "materialize", start, end, "--views", view)
    with sqlite3.connect(ws.feast_online) as con:
        n = con.execute(f"SELECT COUNT(DISTINCT entity_key) FROM {table}").fetchone()[0]
    from features.store.feast_store import latest_snapshot

    assert n == len(latest_snapshot(ws, view)) > 0
    assert _registries(ws.root) == [ws.feast_registry]


def test_redis_password_stays_out_of_the_yaml(tmp_path: Path, tiny_settings: Settings) -> None:
    from pydantic import SecretStr

    from configs.workspace import resolve_workspace
    from features.store.feast_store import REDIS_PASSWORD_ENV, repo_config_dict, write_repo_yaml

    ws = resolve_workspace(tmp_path / "ws")
    secret = SecretStr("r:6379,password=s3cret")  # the settings' type for it
    cfg = tiny_settings.features.model_copy(
        update={"online_store": "redis", "redis_connection_string": secret}
    )
    plain = repo_config_dict(ws, cfg)["online_store"]["connection_string"]
    assert plain == "r:6379,password=s3cret"  # what Feast's RepoConfig is given in code
    text = write_repo_yaml(ws, cfg).read_text(encoding="utf-8")
    assert "s3cret" not in text and "**" not in text
    online = yaml.safe_load(text)["online_store"]
    assert online["connection_string"] == f"r:6379,password=${{{REDIS_PASSWORD_ENV}}}"
