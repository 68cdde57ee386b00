"""Tell "the registry says there is no champion" from "the registry did not answer".

Why: a locked `mlflow.db` (or an MLflow server restart) used to read as "no champion", so
every answer silently fell back to heuristic scores for as long as the blip lasted. Only
an answer that names the model or alias as missing means heuristics; any other failure
raises RegistryUnavailable, the reload loop keeps the live snapshot and RegistryHealth
reports it (readiness detail, Prometheus metrics, one warning line per outage).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# exit code of the snapshot build process when the registry did not answer (EX_TEMPFAIL)
EXIT_UNAVAILABLE = 75
_MISSING_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST"})


class RegistryUnavailable(RuntimeError):
    """The MLflow registry could not be read; the current champions are unknown."""


def is_missing(exc: BaseException) -> bool:
    """True when EXC is the registry saying the model or its alias does not exist."""
    code = getattr(exc, "error_code", None)
    if code in _MISSING_CODES:
        return True
    # an alias that is not set: MLflow answers INVALID_PARAMETER_VALUE "alias ... not found"
    return code == "INVALID_PARAMETER_VALUE" and "not found" in str(exc).lower()


def is_registry_error(exc: BaseException) -> bool:
    """An MLflow or I/O error (worth retrying), not a bug in the model or our code."""
    return isinstance(exc, OSError) or any(
        c.__name__ == "MlflowException" for c in type(exc).__mro__
    )


def unavailable(exc: BaseException) -> RegistryUnavailable:
    """EXC as a RegistryUnavailable with a one-line reason (first line of the message)."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return RegistryUnavailable(f"{type(exc).__name__}: {first[:300]}")


class RegistryHealth:
    """The registry's state as the reload loop last saw it; ON_CHANGE(up, reason) is called
    on every check (the service feeds its Prometheus gauge and counter from it)."""

    def __init__(self, on_change: Callable[[bool, str | None], object] | None = None) -> None:
        self._lock = threading.Lock()
        self._on_change = on_change
        self.up = True
        self.error: str | None = None
        self.since: float | None = None  # time.time() of the first failure of this outage
        self.failures = 0  # failed checks in the current outage

    def ok(self) -> None:
        with self._lock:
            if not self.up:
                log.warning("MLflow registry reachable again after %d failed checks", self.failures)
            self.up, self.error, self.since, self.failures = True, None, None, 0
        self._notify(True, None)

    def failed(self, exc: BaseException, keeping: str) -> None:
        """Record a failed read; warns once per outage (not once per reload round)."""
        reason = str(exc)
        with self._lock:
            first = self.up
            self.up, self.error, self.failures = False, reason, self.failures + 1
            self.since = self.since or time.time()
        if first:
            log.warning("MLflow registry unavailable (%s): keeping snapshot %s", reason, keeping)
        self._notify(False, reason)

    def _notify(self, up: bool, reason: str | None) -> None:
        if self._on_change is not None:
            try:
                self._on_change(up, reason)
            except Exception:  # noqa: BLE001 - metrics must never stop the reload loop
                log.exception("could not update registry metrics")

    def detail(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {"up": self.up}
            if not self.up:
                out.update(error=self.error, since=self.since, failed_checks=self.failures)
            return out
