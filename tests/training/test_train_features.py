"""train() only reads feature snapshots: a missing date is an error naming it and the command
to run; the front door (grouppush.train_features) lists the dates and builds only those."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from configs.workspace import Workspace, resolve_workspace
from features.snapshots import training_snapshot_dates
from tests.training.conftest import small_settings
from tests.training.train_fixtures import write_workspace


@pytest.fixture(scope="module")
def holey_ws(tmp_path_factory: pytest.TempPathFactory, as_of: date) -> Workspace:
    """The synthetic workspace without the newest (held-out) training snapshot."""
    ws = resolve_workspace(Path(tmp_path_factory.mktemp("holey")))
    dates = training_snapshot_dates(as_of, 30, 3, 30)
    write_workspace(ws, sorted(dates)[:-1], n_users=120, seed=1)
    return ws


def test_feature_dates_are_what_train_reads(synthetic_ws: Workspace, as_of: date) -> None:
    from training.train import feature_dates

    settings = small_settings()
    assert feature_dates(settings, synthetic_ws, "all", as_of) == sorted(
        training_snapshot_dates(as_of, 30, 3, 30)
    )
    assert feature_dates(settings, synthetic_ws, "push", as_of) == []  # the order log only


def test_train_names_missing_snapshots_and_computes_nothing(
    holey_ws: Workspace, as_of: date
) -> None:
    from training.train import NEEDED_TABLES, MissingSnapshots, offline_dates, train

    before = {t: offline_dates(holey_ws, t) for t in NEEDED_TABLES}
    missing = max(training_snapshot_dates(as_of, 30, 3, 30))
    with pytest.raises(MissingSnapshots) as err:
        train(small_settings(), holey_ws, "repurchase", as_of, show_progress=False)
    text = str(err.value)
    assert str(missing) in text and "grouppush train" in text
    assert f"features build --as-of {as_of}" in text and "\n" not in text
    assert {t: offline_dates(holey_ws, t) for t in NEEDED_TABLES} == before


def test_front_door_builds_only_the_missing_dates(
    holey_ws: Workspace, as_of: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    import features.compute.build as build
    from grouppush.train_features import build_training_features

    asked: list[list[date]] = []
    monkeypatch.setattr(build, "compute_snapshots", lambda s, w, d, **_: asked.append(list(d)))
    built = build_training_features(small_settings(), holey_ws, "all", as_of, show_progress=False)
    missing = max(training_snapshot_dates(as_of, 30, 3, 30))
    assert asked == [[missing]]
    assert built["computed_snapshots"] == [str(missing)]
    assert "ensure_snapshots" in built["stages"]["seconds"]
    push = build_training_features(small_settings(), holey_ws, "push", as_of, show_progress=False)
    assert push == {"computed_snapshots": [], "stages": {"seconds": {}, "peak_rss_mib": {}}}
    assert asked == [[missing]]


def test_with_built_keeps_the_result_shape() -> None:
    from grouppush.train_features import with_built

    built = {
        "computed_snapshots": ["2025-01-01"],
        "stages": {"seconds": {"ensure_snapshots": 2.0}, "peak_rss_mib": {"ensure_snapshots": 9}},
    }
    result = {
        "as_of": "2025-03-01",
        "snapshots": ["2025-01-01"],
        "repurchase": {"version": "1"},
        "stages": {"seconds": {"setup": 1.0}, "peak_rss_mib": {"setup": 8}},
    }
    out = with_built(built, result)
    assert list(out) == ["as_of", "snapshots", "computed_snapshots", "repurchase", "stages"]
    assert out["stages"]["seconds"] == {"ensure_snapshots": 2.0, "setup": 1.0}
    assert out["stages"]["peak_rss_mib"] == {"ensure_snapshots": 9, "setup": 8}


def test_front_door_registers_the_feature_services_of_a_never_built_workspace(
    tmp_path: Path, as_of: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`grouppush train` right after ingest (no `features build`) found no feature service in
    Feast; the front door now applies the definitions when the registry is missing."""
    import features.compute.build as build
    from grouppush.train_features import build_training_features

    ws = resolve_workspace(tmp_path / "fresh")
    write_workspace(ws, sorted(training_snapshot_dates(as_of, 30, 3, 30)), n_users=60, seed=2)
    monkeypatch.setattr(build, "compute_snapshots", lambda s, w, d, **_: None)
    assert not ws.feast_registry.exists()
    build_training_features(small_settings(), ws, "repurchase", as_of, show_progress=False)
    assert ws.feast_registry.exists()
    from features.store.feast_store import get_store

    store = get_store(ws, small_settings().features)
    assert {s.name for s in store.list_feature_services()} >= {"repurchase_v1"}
