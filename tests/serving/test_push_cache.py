"""The push part of the snapshot is saved in the workspace: a second load (service restart,
export) reads it instead of scoring again, its push lists are identical, and a change of the
order log or damage to the saved files means scoring again."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from configs.settings import load_settings
from configs.workspace import Workspace
from features.contract.io import write_parquet_atomic
from serving import loader
from serving.export import every_push_list
from serving.loader import load_snapshot
from serving.push_cache import PREFIX
from serving.score_cache import FOLDER
from serving.snapshot import Snapshot
from tests.serving.test_push_service import push_env  # noqa: F401 - the module fixture

pytestmark = pytest.mark.integration


def _lists(snap: Snapshot) -> list[tuple[str, str, list[tuple[str, float, tuple[str, ...]]]]]:
    cfg = load_settings().serving
    out = []
    for res in every_push_list(snap, cfg):
        for item in res.items:
            members = [(m.user_id, round(m.score, 9), tuple(m.reasons)) for m in item.members]
            out.append((res.group_id, item.product_id, members))
    return out


def _scores(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the calls that score the push part from the order log."""
    calls: list[int] = []
    real = loader._score_push

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(loader, "_score_push", counted)
    return calls


def _folders(ws: Workspace) -> list[str]:
    return sorted(p.name for p in (ws.root / FOLDER).glob(f"{PREFIX}*"))


def test_cached_and_scored_snapshots_give_the_same_push_lists(
    push_env: Workspace,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _scores(monkeypatch)
    settings = load_settings()
    for folder in (push_env.root / FOLDER).glob(f"{PREFIX}*"):
        import shutil

        shutil.rmtree(folder)
    scored = load_snapshot(push_env, settings)
    assert len(calls) == 1 and len(_folders(push_env)) == 1
    cached = load_snapshot(push_env, settings)
    assert len(calls) == 1  # read back, not scored again
    assert "push" in cached.model_versions
    for name in ("push_indptr", "push_indices", "push_prob", "push_info", "push_sub"):
        np.testing.assert_array_equal(getattr(cached, name), getattr(scored, name))
    assert cached.push_cold_rate == scored.push_cold_rate
    lists = _lists(scored)
    assert any(members for _, _, members in lists)
    assert _lists(cached) == lists


def test_new_orders_or_a_damaged_cache_score_again(
    push_env: Workspace,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings()
    load_snapshot(push_env, settings)
    calls = _scores(monkeypatch)
    (folder,) = _folders(push_env)
    (push_env.root / FOLDER / folder / "arrays.prob.npy").write_bytes(b"damaged")
    load_snapshot(push_env, settings)
    assert len(calls) == 1  # unreadable: scored again (and saved again)
    load_snapshot(push_env, settings)
    assert len(calls) == 1
    orders = pd.read_parquet(push_env.data / "orders.parquet")
    write_parquet_atomic(orders.iloc[:-1], push_env.data / "orders.parquet")
    load_snapshot(push_env, settings)
    assert len(calls) == 2  # the order log changed: a new key
    assert len(_folders(push_env)) == 1 and _folders(push_env) != [folder]
    write_parquet_atomic(orders, push_env.data / "orders.parquet")  # as the fixture left it
