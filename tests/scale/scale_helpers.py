"""Helpers shared by the scale-out tests and their fixtures."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

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
