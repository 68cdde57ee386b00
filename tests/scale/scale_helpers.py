"""Helpers shared by the scale-out tests and their fixtures."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Any

from configs.workspace import Workspace, resolve_workspace

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def workspace_with(data: Path, root: Path) -> Workspace:
    """A fresh workspace under ROOT holding a copy of the contract tables in DATA."""
    ws = resolve_workspace(root)
    shutil.copytree(data, ws.data)
    return ws


def redis_hashes(url: Any) -> dict[bytes, dict[bytes, bytes]]:
    """Every Feast hash in the Redis database of URL (the published snapshot left out)."""
    from features.store.redis_snapshot import redis_client

    client = redis_client(url)
    try:
        keys = [k for k in client.scan_iter(count=1000) if not k.startswith(b"grouppush:snapshot")]
        return {k: client.hgetall(k) for k in keys}
    finally:
        client.close()
