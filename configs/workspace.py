"""Where every piece of state lives, derived from one optional workspace directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Workspace:
    """Paths of one workspace; nothing is created until a command asks for it."""

    root: Path
    data: Path
    quarantine: Path
    truth: Path
    offline: Path
    feast: Path
    mlflow: Path
    exports: Path
    reports: Path
    feedback: Path

    @property
    def mlflow_tracking_uri(self) -> str:
        # Not MLFLOW_TRACKING_URI: mlflow.set_tracking_uri() exports that variable, so one
        # workspace's URI would leak into the next workspace opened by the same process.
        override = os.environ.get("GROUPPUSH_MLFLOW_TRACKING_URI")
        if override:
            return override
        return f"sqlite:///{(self.mlflow / 'mlflow.db').resolve()}"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.mlflow / "artifacts"

    @property
    def feast_registry(self) -> Path:
        return self.feast / "registry.db"

    @property
    def feast_online(self) -> Path:
        return self.feast / "online_store.db"


def resolve_workspace(root: Path | str | None = None) -> Workspace:
    """A workspace under ROOT, or (no root) the repo's own ignored folders in the working dir."""
    if root is None and os.environ.get("GROUPPUSH_WORKSPACE"):
        root = os.environ["GROUPPUSH_WORKSPACE"]
    if root is None:
        cwd = Path.cwd()
        return Workspace(
            root=cwd,
            data=cwd / "data",
            quarantine=cwd / "data" / "quarantine",
            truth=cwd / "data" / "truth",
            offline=cwd / "features" / "store" / "feature_repo" / "data" / "offline",
            feast=cwd / "features" / "store" / "feature_repo" / "data",
            mlflow=cwd / "mlflow",
            exports=cwd / "exports",
            reports=cwd / "reports",
            feedback=cwd / "data" / "feedback",
        )
    base = Path(root).resolve()
    return Workspace(
        root=base,
        data=base / "data",
        quarantine=base / "quarantine",
        truth=base / "data" / "truth",
        offline=base / "features" / "offline",
        feast=base / "features" / "feast",
        mlflow=base / "mlflow",
        exports=base / "exports",
        reports=base / "reports",
        feedback=base / "feedback",
    )


PRESET_FILE = "grouppush-preset.txt"  # written by `grouppush simulate` in the workspace root


def remembered_preset(root: Path) -> str | None:
    """The preset the workspace was simulated with, so later commands (and the service) use
    matching settings."""
    path = root / PRESET_FILE
    return path.read_text(encoding="utf-8").strip() or None if path.exists() else None


def remember_preset(root: Path, preset: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / PRESET_FILE).write_text(preset + "\n", encoding="utf-8")
