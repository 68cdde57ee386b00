"""The interest champion's pair scores saved in the workspace, keyed by everything they depend on.

Scoring every (user, candidate category) pair with the interest champion is the slow part of a
snapshot load with champions (large preset: LightGBM over ~28M pairs, minutes of CPU), and the
service start and `grouppush export push-lists` are separate processes that would each pay it.
The first load saves the flat arrays; a later load with the same key (model version and run, feature
files' marker, candidate count, as-of date, format) reads them back in seconds. Only the newest
key is kept. A missing or unreadable file just means scoring again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

from configs.workspace import Workspace
from serving.snapshot import Long

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the pair features or the saved arrays change meaning
FOLDER = "serving_cache"
_NAMES = ("row", "col", "scores", "last", "c30", "prob")


def cache_key(model: str, marker: int | str, n_popular: int, as_of: date | None) -> str:
    """MODEL: name/version/run id (a version number alone repeats across registries)."""
    raw = f"{FORMAT}|{model}|{marker}|{n_popular}|{as_of.isoformat() if as_of else 'latest'}"
    return hashlib.sha1(raw.encode()).hexdigest()[:20]


def _path(ws: Workspace, key: str) -> Path:
    return ws.root / FOLDER / f"interest-{key}.npz"


def load_scores(ws: Workspace, key: str) -> tuple[Long, np.ndarray] | None:
    """The saved (long pairs, probabilities) of KEY, or None."""
    path = _path(ws, key)
    if not path.exists():
        return None
    try:
        with np.load(path) as saved:
            row, col, scores, last, c30, prob = (saved[name] for name in _NAMES)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring unreadable score cache %s: %s", path, exc)
        return None
    return (np.ones(len(row), dtype=bool), row, col, scores, last, c30), prob


def save_scores(ws: Workspace, key: str, scored: tuple[Long, np.ndarray]) -> None:
    """Write atomically (temp file + rename), then drop the files of other keys."""
    (known, *arrays), prob = scored
    path = _path(ws, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".interest-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            row, col, scores, last, c30, p = (
                a if known.all() else a[known] for a in (*arrays, prob)
            )
            np.savez(fh, row=row, col=col, scores=scores, last=last, c30=c30, prob=p)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the service and exports share it
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not save the score cache %s: %s", path, exc)
        Path(tmp).unlink(missing_ok=True)
        return
    for old in path.parent.glob("interest-*.npz"):
        if old != path:
            old.unlink(missing_ok=True)
