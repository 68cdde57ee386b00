"""Seconds and peak RSS per named stage, for the feature build and training alike.

Why: the targets are end-to-end wall time and peak memory, and one total hides where they go;
the first stage whose peak jumps is where the memory goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Called with a stage's name when it starts: the CLI shows progress of long runs (train,
# evaluate) from here without each caller taking a progress argument.
STAGE_LISTENERS: list[Callable[[str], None]] = []


def peak_rss_mib() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so
    a child started by a big parent would report the parent's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource  # POSIX fallback; ru_maxrss is KiB on Linux

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stages:
    """Seconds per named stage (a repeated name adds up, e.g. over as-of dates) and the
    process's peak RSS (MiB) when each stage ends. Use as `with stages("fit"): ...`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_rss_mib: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        for listener in STAGE_LISTENERS:
            listener(name)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            self.peak_rss_mib[name] = round(peak_rss_mib(), 1)

    def summary(self) -> dict[str, dict[str, float]]:
        """{"seconds": {...}, "peak_rss_mib": {...}} rounded, in the order stages ran."""
        return {
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "peak_rss_mib": dict(self.peak_rss_mib),
        }
