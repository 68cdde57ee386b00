"""The push part of a snapshot saved in the workspace, keyed by everything it depends on.

Scoring the warm (member, product) pairs with the push champion is the slow part of a
snapshot build with a push model, and the service start, its reloads and `grouppush export
push-lists` are separate processes that would each pay it. The first build saves the push
fields (warm CSR, cycle suppression CSR, cold category scores) as .npy files; a later build
with the same key reads them memory-mapped, without reading the order log.

The key: the push model (name/version/run id), the orders, memberships and products files
(size and modification time), the serving settings that shape the entries, the snapshot's
as-of day, and a digest of the snapshot's users, products, categories, category cycles and
default candidates (the arrays the entries are indexed by and selected from). Only the newest
key is kept; a missing or unreadable folder just means scoring again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from configs.settings import Settings
from configs.workspace import Workspace
from features.contract.io import table_path
from serving.push_scores import PushArrays
from serving.score_cache import FOLDER
from serving.snapshot import Snapshot

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the saved arrays or the pair selection change meaning
PREFIX = "push-"
TABLES = ("orders", "memberships", "products")
META = "meta.json"
STALE_SECONDS = 6 * 3600  # a temporary folder this old belongs to no running build


@dataclass(frozen=True)
class PushFields:
    """Everything the push champion adds to a snapshot (serving.loader._with_push)."""

    arrays: PushArrays
    block_indptr: np.ndarray
    block_indices: np.ndarray
    cold_indptr: np.ndarray
    cold_indices: np.ndarray
    cold_score: np.ndarray


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    return [path] if path.exists() else []


def _digest(h: hashlib._Hash, values: np.ndarray | None) -> None:
    if values is None:
        h.update(b"none")
        return
    array = np.asarray(values)
    if array.dtype == object:
        array = pd.util.hash_array(array.astype(str).astype(object))
    h.update(str(array.dtype).encode() + str(array.shape).encode())
    h.update(np.ascontiguousarray(array).tobytes())


def cache_key(ws: Workspace, settings: Settings, snap: Snapshot, model: str) -> str | None:
    """MODEL: name/version/run id. None when the workspace has no orders file (nothing to
    key on: the caller scores, or finds nothing to score)."""
    h = hashlib.sha1(f"{FORMAT}|{model}|{snap.as_of}".encode())
    orders = _files(table_path(ws.data, "orders"))
    if not orders:
        return None
    for name in TABLES:
        for path in _files(table_path(ws.data, name)):
            stat = path.stat()
            h.update(f"|{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    push_settings = {k: v for k, v in settings.serving.model_dump().items() if "push" in k}
    push_settings["hf"] = settings.features.high_frequency_cycle_days
    h.update(json.dumps(push_settings, sort_keys=True, default=str).encode())
    for values in (snap.user_ids, snap.prod_ids, snap.prod_cat, snap.cat_cycle):
        _digest(h, values)
    _digest(h, snap.default_candidates)
    return h.hexdigest()[:20]


def cache_dir(ws: Workspace, key: str) -> Path:
    return ws.root / FOLDER / f"{PREFIX}{key}"


def _names() -> list[str]:
    arrays = [f"arrays.{f.name}" for f in fields(PushArrays) if f.name != "cold_rate"]
    return arrays + [f.name for f in fields(PushFields) if f.name != "arrays"]


def load(ws: Workspace, key: str) -> PushFields | None:
    """The fields saved under KEY, arrays memory-mapped read-only; None when absent or
    unreadable (logged, and the folder removed)."""
    folder = cache_dir(ws, key)
    if not folder.is_dir():
        return None
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        # plain ndarray views of the maps (np.memmap's slicing hooks would cost request time)
        got = {n: np.asarray(np.load(folder / f"{n}.npy", mmap_mode="r")) for n in _names()}
        arrays = {k.removeprefix("arrays."): v for k, v in got.items() if k.startswith("arrays.")}
        rest = {k: v for k, v in got.items() if not k.startswith("arrays.")}
        return PushFields(PushArrays(**arrays, cold_rate=float(meta["cold_rate"])), **rest)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable push cache %s: %s", folder, exc)
        shutil.rmtree(folder, ignore_errors=True)  # so this build's scores replace it
        return None


def save(ws: Workspace, key: str, pushed: PushFields) -> Path | None:
    """Write PUSHED under KEY (temporary folder renamed when complete; a concurrent writer's
    copy is kept), drop other keys; None when the disk refuses (logged)."""
    final = cache_dir(ws, key)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{PREFIX}", dir=final.parent))
        values = {f"arrays.{f.name}": getattr(pushed.arrays, f.name) for f in fields(PushArrays)}
        values |= {f.name: getattr(pushed, f.name) for f in fields(PushFields)}
        for name in _names():
            with open(tmp / f"{name}.npy", "wb") as fh:
                np.save(fh, np.ascontiguousarray(values[name]), allow_pickle=False)
        meta = {"cold_rate": pushed.arrays.cold_rate, "format": FORMAT}
        (tmp / META).write_text(json.dumps(meta), encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the service and exports share it
        try:
            os.replace(tmp, final)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not final.is_dir():
                raise
    except OSError as exc:
        log.warning("could not save the push cache: %s", exc)
        return None
    for old in final.parent.glob(f"{PREFIX}*"):
        if old != final:
            with contextlib.suppress(OSError):
                shutil.rmtree(old)
    stale = time.time() - STALE_SECONDS  # left by a killed build (another may be writing)
    for tmp in final.parent.glob(f".{PREFIX}*"):
        with contextlib.suppress(OSError):
            if tmp.stat().st_mtime < stale:
                shutil.rmtree(tmp)
    return final
