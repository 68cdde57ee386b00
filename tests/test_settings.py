"""Settings layering and the workspace layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from configs.settings import load_settings
from configs.workspace import resolve_workspace


def test_preset_overrides_base() -> None:
    assert load_settings("tiny").simulate.n_users == 2000
    assert load_settings("demo").simulate.n_users == 50000


def test_env_overrides_yaml_and_flags_override_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROUPPUSH__TRAINING__HORIZON_DAYS", "14")
    assert load_settings("tiny").training.horizon_days == 14
    flagged = load_settings("tiny", {"training": {"horizon_days": 7}})
    assert flagged.training.horizon_days == 7


def test_unknown_env_key_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROUPPUSH__TRAINING__HORIZN_DAYS", "14")
    with pytest.raises(ValidationError, match="horizn_days"):
        load_settings()


def test_unknown_yaml_key_is_an_error_naming_it(tmp_path: Path) -> None:
    cfg = tmp_path / "extra.yaml"
    cfg.write_text("serving:\n  push_capp: 4\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="push_capp"):
        load_settings(config_file=cfg)


def test_unknown_preset_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown preset"):
        load_settings("huge")


def test_workspace_keeps_all_state_under_root(tmp_path: Path) -> None:
    ws = resolve_workspace(tmp_path / "ws")
    for path in (ws.data, ws.quarantine, ws.offline, ws.feast, ws.mlflow, ws.exports):
        assert path.is_relative_to(tmp_path / "ws")
    assert ws.mlflow_tracking_uri.startswith("sqlite:///")


def test_mlflow_folder_does_not_shadow_the_library() -> None:
    import mlflow

    assert "site-packages" in mlflow.__file__
