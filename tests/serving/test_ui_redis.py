"""The operator page on a Redis-only replica: `features build` publishes the page's side tables
with the Redis snapshot, and a replica whose workspace holds no files shows the same group
rows, stage history and product attributes as the workspace that built them (a real
redis-server on loopback, the tiny preset simulated and built)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from configs.settings import Settings
from configs.workspace import Workspace, resolve_workspace
from serving.snapshot import Snapshot
from tests.scale.conftest import redis_url, tiny_data, tiny_settings  # noqa: F401 - fixtures
from tests.scale.scale_helpers import workspace_with

pytestmark = pytest.mark.integration


def _redis(settings: Settings, url: str) -> Settings:
    features = settings.features.model_copy(
        update={"online_store": "redis", "redis_connection_string": SecretStr(url)}
    )
    return settings.model_copy(update={"features": features})


@pytest.fixture(scope="module")
def built(
    tiny_data: Path,  # noqa: F811
    tiny_settings: Settings,  # noqa: F811
    redis_url: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Workspace, Settings, Snapshot]]:
    """(the building workspace, Redis settings, the snapshot a replica loads from Redis)."""
    from features.compute.build import build_features
    from serving.loader import load_snapshot

    ws = workspace_with(tiny_data, tmp_path_factory.mktemp("ui_redis_ws"))
    settings = _redis(tiny_settings, redis_url)
    build_features(settings, ws, show_progress=False)
    replica = resolve_workspace(tmp_path_factory.mktemp("ui_redis_replica"))
    snap = load_snapshot(replica, settings, champions=False)
    yield ws, settings, snap


def test_redis_replica_shows_the_side_tables_of_the_build(built) -> None:  # type: ignore[no-untyped-def]
    from serving.ui.tables import load_tables

    ws, settings, snap = built
    empty = resolve_workspace(ws.root.parent / "no_files_here")
    local = load_tables(ws, snap, None)  # the building workspace's files
    remote = load_tables(empty, snap, settings)  # Redis only
    assert not local.notes and not remote.notes, remote.notes
    assert remote.group_rows == local.group_rows
    assert all(r["group_type"] and r["active_share"] is not None for r in remote.group_rows)
    assert all(r["last_order"] for r in remote.group_rows if r["stage"] != "zombie")
    assert any(r["store_id"] for r in remote.group_rows)  # store-less types have none
    assert remote.stage_history == local.stage_history
    assert len(next(iter(remote.stage_history.values()))) >= 2, "one entry per as-of date"
    assert remote.products == local.products
    assert all(p.get("department_id") for p in remote.products.values())


def test_redis_replica_page_over_http(built) -> None:  # type: ignore[no-untyped-def]
    from serving.ui.app import UiContext, create_app

    ws, settings, snap = built
    ctx = UiContext(settings, resolve_workspace(ws.root.parent / "no_files_either"), snap)
    with TestClient(create_app(lambda: ctx), raise_server_exceptions=False) as ui:
        rows = ui.get("/api/groups").json()
        assert rows["total"] == len(snap.group_ids) and not rows["notes"]
        gid = max(rows["rows"], key=lambda r: r["members"])["group_id"]
        page = ui.get(f"/api/groups/{gid}").json()
    assert page["group"]["active_share"] is not None and page["stage_history"]
    assert all(i["product"] for i in page["push_list"]["items"])


def test_unreachable_redis_is_a_note_not_an_error(built) -> None:  # type: ignore[no-untyped-def]
    from serving.ui.tables import load_tables

    ws, settings, snap = built
    gone = _redis(settings, "127.0.0.1:1")
    tables = load_tables(ws, snap, gone)
    assert tables.notes and "Redis snapshot unreadable" in tables.notes[0]
    assert [r["group_id"] for r in tables.group_rows] == [str(g) for g in snap.group_ids]
