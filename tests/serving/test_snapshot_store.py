"""The snapshot built in a child process and mapped from files equals the in-process build."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from configs.workspace import Workspace
from serving.snapshot import Snapshot

pytestmark = pytest.mark.integration


def _assert_same(got: Snapshot, want: Snapshot) -> None:
    for f in dataclasses.fields(want):
        a, b = getattr(got, f.name), getattr(want, f.name)
        if f.name == "storage":
            continue
        if f.name == "interest":
            for g in dataclasses.fields(b):
                x, y = getattr(a, g.name), getattr(b, g.name)
                assert x.dtype == y.dtype and x.shape == y.shape, g.name
                np.testing.assert_array_equal(x, y, err_msg=g.name)
        elif isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape, f.name
            np.testing.assert_array_equal(a, b, err_msg=f.name)
        else:
            assert a == b, f.name


def _answers(snap: Snapshot, settings: object) -> list[bytes]:
    from serving import handlers
    from serving.schemas import PushListRequest

    out = []
    for groups in (["g0", "g1"], ["g2", "g3", "nope"]):
        req = PushListRequest(group_ids=groups, top_k=5, members_per_product=10)
        status, body = handlers.push_lists(snap, req, settings)  # type: ignore[arg-type]
        assert status == 200
        out.append(body if isinstance(body, bytes) else body.model_dump_json().encode())
    return out


def test_isolated_build_equals_in_process_and_replaced_folders_go(
    serving_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from configs.settings import load_settings
    from serving.loader import load_snapshot
    from serving.snapshot_store import load_isolated, prune_snapshots, snapshot_root

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = load_settings()
    want = load_snapshot(serving_ws, settings)
    assert want.model_versions["interest"] != "heuristic"  # the champion path is compared
    first = load_isolated(serving_ws, settings)
    assert first.storage is not None and first.storage.parent == snapshot_root(serving_ws)
    assert not first.interest.scoring.flags.writeable  # mapped read-only
    assert type(first.interest.indices) is np.ndarray  # plain views: no memmap hooks per slice
    _assert_same(first, want)
    answers = _answers(want, settings)
    assert _answers(first, settings) == answers

    second = load_isolated(serving_ws, settings)
    assert second.storage is not None and second.storage != first.storage
    gone = prune_snapshots(serving_ws, second)  # (and folders of this session's services)
    assert first.storage in gone and second.storage not in gone
    assert not Path(first.storage).exists() and second.storage.is_dir()
    # a request still holding the replaced snapshot reads it through the mapping
    assert _answers(first, settings) == answers
    assert prune_snapshots(serving_ws, second) == []
    assert [p for p in snapshot_root(serving_ws).iterdir() if "snapshot" in p.name] == [
        second.storage
    ]


def test_folders_of_gone_processes_are_deleted(tmp_path: Path) -> None:
    from configs.workspace import resolve_workspace
    from serving.snapshot_store import PREFIX, prune_snapshots, snapshot_root

    ws = resolve_workspace(tmp_path / "ws")
    root = snapshot_root(ws)
    dead = 2**22 + 12345  # above the default pid_max: no such process
    kept = [root / f"{PREFIX}1-abc", root / "interest-xyz", root / f".{PREFIX}1-tmp"]
    gone = [root / f"{PREFIX}{dead}-abc", root / f".{PREFIX}{dead}-tmp"]
    for path in kept + gone:
        path.mkdir(parents=True)
    assert sorted(prune_snapshots(ws, None)) == sorted(gone)
    assert all(p.is_dir() for p in kept)


def test_a_failed_build_raises_and_leaves_no_folder(tmp_path: Path) -> None:
    """No feature files: the child fails, the reload thread keeps the old snapshot."""
    from configs.settings import load_settings
    from configs.workspace import resolve_workspace
    from serving.snapshot_store import load_isolated, snapshot_root

    ws = resolve_workspace(tmp_path / "empty")
    with pytest.raises(RuntimeError, match="snapshot build process failed"):
        load_isolated(ws, load_settings())
    assert list(snapshot_root(ws).iterdir()) == []
