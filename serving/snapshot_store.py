"""Build the serving snapshot in a short-lived child process and map its arrays read-only.

Why: a reload builds the next snapshot while the live one still answers requests. Built in
the worker, both sat in its heap at once (large preset: 2.6-2.7 GiB, target <= 2 GiB). Here
a spawned child runs serving.loader.load_snapshot, writes every numeric array as an .npy file
into a new folder under the workspace's serving cache (temporary folder, fsynced, renamed)
and the small objects (ids, id dicts, tag sets, versions) as one pickle; the worker maps the
arrays with np.load(mmap_mode="r") (an immutable snapshot needs no writable copy) and keeps
only the pickled objects in its heap. Mapped pages are file-backed: they count in RSS when
touched, but the build's temporaries never enter the worker.

Folders are named `snapshot-<worker pid>-<random>`. After a swap the worker deletes its other
folders: on Linux a deleted file stays readable through an existing mapping, so requests still
reading the old snapshot are unaffected, and the disk space returns when the last mapping
goes. Folders of processes that no longer run are deleted too (a killed worker's).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from configs.settings import Settings
from configs.workspace import Workspace
from features.contract.table_commit import fsync_path
from serving.interest_csr import InterestCsr
from serving.registry_health import EXIT_UNAVAILABLE, RegistryUnavailable
from serving.score_cache import FOLDER
from serving.snapshot import Snapshot

log = logging.getLogger(__name__)

PREFIX = "snapshot-"
SMALL = "small.pkl"  # every field that is not a numeric array
CSR_FIELDS = ("indptr", "indices", "last_days", "counts_30d", "live", "scoring")
REGISTRY_ERROR = ".registry-error"  # the reason a build process exited EXIT_UNAVAILABLE
STALE_SECONDS = 6 * 3600  # a temporary folder this old belongs to no running build


def _numeric(value: object) -> bool:
    return isinstance(value, np.ndarray) and value.dtype != object


def _write_array(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, np.ascontiguousarray(array), allow_pickle=False)


def _sync(paths: list[Path]) -> None:
    """fsync each file or folder (a folder: its entries) by path, once all are written."""
    for path in paths:
        fsync_path(path)


def save_snapshot(snap: Snapshot, final: Path) -> Path:
    """Write SNAP into the folder FINAL (via a temporary sibling renamed when complete).
    The CSR's model/rel/due are column views of `scoring`: only `scoring` is written."""
    tmp = final.with_name(f".{final.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    small: dict[str, Any] = {}
    for f in dataclasses.fields(snap):
        value = getattr(snap, f.name)
        if f.name == "interest":
            for name in CSR_FIELDS:
                _write_array(tmp / f"interest.{name}.npy", getattr(value, name))
        elif f.name == "storage":
            continue
        elif _numeric(value):
            _write_array(tmp / f"{f.name}.npy", value)
        else:
            small[f.name] = value
    with open(tmp / SMALL, "wb") as fh:
        pickle.dump(small, fh, protocol=pickle.HIGHEST_PROTOCOL)
    _sync([*tmp.iterdir(), tmp])
    os.replace(tmp, final)
    _sync([final.parent])
    return final


def _mapped(path: Path) -> np.ndarray:
    # a plain ndarray view of the memmap: np.memmap's Python-level hooks on every slice
    # would cost request time; the view keeps the mapping alive through .base
    return np.asarray(np.load(path, mmap_mode="r"))


def open_snapshot(folder: Path) -> Snapshot:
    """The snapshot saved in FOLDER, numeric arrays mapped read-only."""
    with open(folder / SMALL, "rb") as fh:
        values: dict[str, Any] = pickle.load(fh)  # noqa: S301 - our own file
    csr = {name: _mapped(folder / f"interest.{name}.npy") for name in CSR_FIELDS}
    scoring = csr["scoring"]
    values["interest"] = InterestCsr(
        model=scoring[:, 0], rel=scoring[:, 1], due=scoring[:, 2], **csr
    )
    for path in folder.glob("*.npy"):
        if not path.name.startswith("interest."):
            values[path.stem] = _mapped(path)
    return Snapshot(**values, storage=folder)


def _child_main() -> None:
    """The child's job: load the snapshot as the worker would, write it, exit.
    (workspace, settings, folder) come pickled on stdin."""
    from features.stages import peak_rss_mib
    from serving.loader import load_snapshot

    logging.basicConfig(level=logging.WARNING)
    ws, settings, final = pickle.load(sys.stdin.buffer)  # noqa: S301 - from our parent
    try:
        snap = load_snapshot(ws, settings)
    except RegistryUnavailable as exc:  # the parent keeps its snapshot and reports why
        Path(f"{final}{REGISTRY_ERROR}").write_text(str(exc), encoding="utf-8")
        sys.exit(EXIT_UNAVAILABLE)
    save_snapshot(snap, Path(final))
    peak = peak_rss_mib() / 1024  # VmHWM: ru_maxrss would carry the worker's peak over exec
    sys.stderr.write(f"snapshot build process: peak RSS {peak:.2f} GiB\n")


def snapshot_root(ws: Workspace) -> Path:
    return ws.root / FOLDER


def load_isolated(ws: Workspace, settings: Settings) -> Snapshot:
    """load_snapshot run in a child process; the result mapped from the folder it wrote."""
    root = snapshot_root(ws)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
    # a fresh interpreter running this module (not multiprocessing's spawn, which re-runs
    # the parent's main script): it shares nothing with the worker's heap
    request = pickle.dumps((ws, settings, str(final)), protocol=pickle.HIGHEST_PROTOCOL)
    cmd = [sys.executable, "-m", "serving.snapshot_store"]
    started = time.monotonic()
    done = subprocess.run(cmd, input=request, check=False)  # noqa: S603 - our own module
    reason = Path(f"{final}{REGISTRY_ERROR}")
    if done.returncode == EXIT_UNAVAILABLE and reason.exists():
        message = reason.read_text(encoding="utf-8")
        reason.unlink()
        raise RegistryUnavailable(message)
    if done.returncode != 0 or not final.is_dir():
        shutil.rmtree(final.with_name(f".{final.name}"), ignore_errors=True)
        raise RuntimeError(f"snapshot build process failed (exit code {done.returncode})")
    log.info("snapshot built by a child process in %.0f s", time.monotonic() - started)
    return open_snapshot(final)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune_snapshots(ws: Workspace, keep: Snapshot | None) -> list[Path]:
    """Delete this process's snapshot folders but KEEP's, and those of processes gone
    (temporary ones once stale); returns the folders deleted."""
    root = snapshot_root(ws)
    if not root.is_dir():
        return []
    me, stale, gone = os.getpid(), time.time() - STALE_SECONDS, []
    for path in root.iterdir():
        name = path.name
        temporary = name.startswith(f".{PREFIX}")
        if not (temporary or name.startswith(PREFIX)) or path == (keep and keep.storage):
            continue
        try:
            pid = int(name.removeprefix(".").removeprefix(PREFIX).split("-")[0])
        except ValueError:
            continue
        if temporary:
            try:
                if _alive(pid) and path.stat().st_mtime >= stale:
                    continue
            except OSError:
                continue
        elif pid == me or not _alive(pid):
            pass
        else:
            continue
        shutil.rmtree(path, ignore_errors=True)
        gone.append(path)
    if gone:
        log.info("deleted %d replaced snapshot folder(s)", len(gone))
    return gone


if __name__ == "__main__":
    _child_main()
