"""Hot reload: a background thread rebuilds the snapshot off to the side, then swaps it in.

Requests read `holder.current` once and keep that object, so a swap (one attribute assignment)
never breaks an in-flight request. The check is cheap: champion versions from the registry and
the newest offline feature file's mtime; the full rebuild runs only when one of them moved.
When the registry does not answer (RegistryUnavailable), the live snapshot stays and
`health` says so: never a silent switch to heuristic scores.
After every load, `retire(current)` may free what the snapshots no longer live hold (the
service deletes the folders of replaced mapped snapshots: serving.snapshot_store).
`adjust(loaded)` gives the snapshot that goes live (the service adds the pushes fed back since
the load: serving.feedback_live); `refresh()` applies it again to the loaded snapshot; `tick()`
runs after every check (the service reads other workers' and replicas' feedback there).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from serving.registry_health import RegistryHealth, RegistryUnavailable
from serving.snapshot import Snapshot

log = logging.getLogger(__name__)

Marker = Callable[[], object]
Loader = Callable[[], Snapshot]
Retire = Callable[[Snapshot], object]
STARTUP_RETRY_SECONDS = 2.0
Adjust = Callable[[Snapshot], Snapshot]


class SnapshotHolder:
    def __init__(
        self,
        loader: Loader,
        marker: Marker,
        interval_seconds: float,
        retire: Retire | None = None,
        health: RegistryHealth | None = None,
        startup_wait_seconds: float = 0.0,
        adjust: Adjust | None = None,
        tick: Callable[[], object] | None = None,
    ) -> None:
        self._loader, self._marker, self._interval = loader, marker, interval_seconds
        self._retire, self._adjust, self._tick = retire, adjust, tick
        self._stop = threading.Event()
        self._swap = threading.Lock()
        self._thread: threading.Thread | None = None
        self.health = health or RegistryHealth()
        self.loaded: Snapshot  # as built; `current` is what requests read
        self._seen, self.loaded = self._first_load(startup_wait_seconds)
        self.current: Snapshot = self._live(self.loaded)
        self.health.ok()
        self.reloads = 0
        self._retired()

    def _first_load(self, wait_seconds: float) -> tuple[object, Snapshot]:
        """(marker, snapshot); while the registry does not answer, retries for up to
        WAIT_SECONDS (a start must not serve heuristics because of a blip), then raises."""
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                return self._marker(), self._loader()
            except RegistryUnavailable as exc:
                self.health.failed(exc, "none (starting)")
                if time.monotonic() >= deadline:
                    raise RegistryUnavailable(
                        f"{exc}; still unavailable after {wait_seconds:.0f} s "
                        "(serving.registry_wait_seconds)"
                    ) from None
                time.sleep(min(STARTUP_RETRY_SECONDS, max(deadline - time.monotonic(), 0)))

    def _retired(self) -> None:
        if self._retire is not None:
            try:
                self._retire(self.loaded)
            except Exception:  # noqa: BLE001 - leftovers are retried after the next load
                log.exception("could not free replaced snapshots")

    def check_now(self) -> bool:
        """Rebuild and swap when the marker moved; True when a new snapshot went live.
        A registry that does not answer keeps the live snapshot (recorded in `health`)."""
        try:
            seen = self._marker()
            if seen == self._seen:
                self.health.ok()
                return False
            fresh = self._loader()
        except RegistryUnavailable as exc:
            self.health.failed(exc, self.current.fingerprint)
            return False
        self.health.ok()
        self._seen = seen
        changed = fresh.fingerprint != self.loaded.fingerprint or fresh.extra != self.loaded.extra
        if changed:
            with self._swap:
                self.loaded = fresh
                self.current = self._live(fresh)
            self.reloads += 1
            log.info("snapshot reloaded: %s", fresh.fingerprint)
        del fresh  # unchanged: dropped here, so retire may free it
        self._retired()
        return changed

    def _live(self, snap: Snapshot) -> Snapshot:
        return self._adjust(snap) if self._adjust is not None else snap

    def refresh(self) -> None:
        """Apply `adjust` again to the loaded snapshot (new feedback arrived)."""
        with self._swap:
            self.current = self._live(self.loaded)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check_now()
            except Exception:  # keep serving the old snapshot; try again next round
                log.exception("snapshot reload failed; keeping %s", self.current.fingerprint)
            if self._tick is not None:
                try:
                    self._tick()
                except Exception:  # noqa: BLE001 - retried next round
                    log.exception("reload tick failed")

    def start(self) -> None:
        if self._thread is None and self._interval > 0:
            self._thread = threading.Thread(target=self._run, name="snapshot-reload", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
