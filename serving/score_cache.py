"""The interest champion's pair scores saved in the workspace, keyed by everything they depend on.

Scoring every (user, candidate category) pair with the interest champion is the slow part of a
snapshot load with champions (large preset: LightGBM over ~35M pairs, minutes of CPU), and the
service start and `grouppush export push-lists` are separate processes that would each pay it.
The first load saves the numbered pairs; a later load with the same key (model version and run,
feature files' marker, candidate count, as-of date, format) reads them back in seconds. Only
the newest key is kept. A missing or unreadable file just means scoring again.

Format 2: a folder `interest-<key>/` of one .npz per scored chunk, written to a temporary
folder and renamed when complete. The chunks are written as they are scored and read back one
at a time (serving.interest_csr reads them twice), so neither side holds every pair at once:
the single .npz of format 1 had to be loaded whole (~1 GB on the large preset).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np

from configs.workspace import Workspace
from serving.interest_csr import ChunkSource, LongChunk

log = logging.getLogger(__name__)

FORMAT = 2  # bump when the pair features or the saved arrays change meaning
FOLDER = "serving_cache"
PREFIX = "interest-"
STALE_SECONDS = 6 * 3600  # a temporary folder this old belongs to no running load
_NAMES = ("row", "col", "scores", "last", "c30", "prob")
_DTYPES = (np.int32, np.int32, np.float32, np.float32, np.float32, np.float32)


def cache_key(model: str, marker: int | str, n_popular: int, as_of: date | None) -> str:
    """MODEL: name/version/run id (a version number alone repeats across registries)."""
    raw = f"{FORMAT}|{model}|{marker}|{n_popular}|{as_of.isoformat() if as_of else 'latest'}"
    return hashlib.sha1(raw.encode()).hexdigest()[:20]


def cache_dir(ws: Workspace, key: str) -> Path:
    return ws.root / FOLDER / f"{PREFIX}{key}"


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.npz"))


def _read(path: Path) -> LongChunk:
    with np.load(path) as saved:
        row, col, scores, last, c30, prob = (saved[name] for name in _NAMES)
    if len({len(row), len(col), len(scores), len(last), len(c30), len(prob)}) != 1:
        raise ValueError(f"{path}: arrays of different lengths")
    return row, col, scores, last, c30, prob


def cached_source(ws: Workspace, key: str) -> ChunkSource | None:
    """The saved chunks of KEY as a source read once per call, or None when not saved.
    Reading raises OSError/ValueError/KeyError on a damaged file (callers score again)."""
    folder = cache_dir(ws, key)
    if not folder.is_dir():
        return None
    parts = _parts(folder)

    def chunks() -> Iterator[LongChunk]:
        for path in parts:
            yield _read(path)

    return chunks


def check(ws: Workspace, key: str) -> bool:
    """Every saved part of KEY is a whole zip holding the arrays (CRCs read, data not kept):
    damage is found before the snapshot build starts reading, and then means scoring again."""
    parts = _parts(cache_dir(ws, key))
    for path in parts:
        with zipfile.ZipFile(path) as archive:
            if archive.testzip() is not None:
                raise ValueError(f"{path}: damaged")
            if {f"{name}.npy" for name in _NAMES} - set(archive.namelist()):
                raise KeyError(f"{path}: arrays missing")
    return bool(parts)


class ScoreWriter:
    """Writes scored chunks into a temporary folder; `commit` publishes them under the key."""

    def __init__(self, ws: Workspace, key: str) -> None:
        self.final = cache_dir(ws, key)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{PREFIX}", dir=self.final.parent))
        self.count = 0

    def add(self, chunk: LongChunk) -> None:
        arrays = {
            name: np.asarray(a, dtype=dtype)
            for name, a, dtype in zip(_NAMES, chunk, _DTYPES, strict=True)
        }
        with open(self.tmp / f"part-{self.count:06d}.npz", "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
        self.count += 1

    def commit(self) -> Path:
        """Rename into place (another process may have published the same key first: then
        its copy is kept), then drop the entries of other keys."""
        os.chmod(self.tmp, 0o755)  # mkdtemp makes it private; the service and exports share it
        try:
            os.replace(self.tmp, self.final)
        except OSError:
            if not self.final.is_dir():
                raise
            self.abort()
        for old in self.final.parent.glob(f"{PREFIX}*"):
            if old == self.final:
                continue
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
        stale = time.time() - STALE_SECONDS  # left by a killed process (another may be writing)
        for tmp in self.final.parent.glob(f".{PREFIX}*"):
            with contextlib.suppress(OSError):
                if tmp.stat().st_mtime < stale:
                    shutil.rmtree(tmp, ignore_errors=True)
        return self.final

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
