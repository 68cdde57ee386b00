"""Shared fixtures: quiet, offline, deterministic test runs."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _quiet_env() -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    os.environ.setdefault("FEAST_USAGE", "False")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    os.environ.pop("GROUPPUSH_WORKSPACE", None)
    for key in [k for k in os.environ if k.startswith("GROUPPUSH__")]:
        os.environ.pop(key)
