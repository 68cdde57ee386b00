"""Seconds and peak RSS per training stage (fetch, labels, fit, baselines, MLflow...).

Why: the large-preset target is end-to-end wall time, and a single "fit" number hid where
most of it went. `train` returns these figures; benchmarks/bench_training.py writes them out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


def peak_rss_mib() -> float:
    """This process's peak RSS so far (VmHWM; see features.build.peak_rss_mib)."""
    from features.build import peak_rss_mib as vm_hwm

    return vm_hwm()


class Stages:
    """Accumulates seconds per named stage (a repeated name adds up) and the process's peak RSS
    when each stage ends: the first stage whose peak jumps is where the memory goes."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_rss_mib: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
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
