"""Hot reload: a background thread rebuilds the snapshot off to the side, then swaps it in.

Requests read `holder.current` once and keep that object, so a swap (one attribute assignment)
never breaks an in-flight request. The check is cheap: champion versions from the registry and
the newest offline feature file's mtime; the full rebuild runs only when one of them moved.
After every load, `retire(current)` may free what the snapshots no longer live hold (the
service deletes the folders of replaced mapped snapshots: serving.snapshot_store).
`adjust(loaded)` gives the snapshot that goes live (the service adds the pushes fed back since
the load: serving.feedback_live); `refresh()` applies it again to the loaded snapshot; `tick()`
runs after every check (the service reads other workers' and replicas' feedback there).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from serving.snapshot import Snapshot

log = logging.getLogger(__name__)

Marker = Callable[[], object]
Loader = Callable[[], Snapshot]
Retire = Callable[[Snapshot], object]
Adjust = Callable[[Snapshot], Snapshot]


class SnapshotHolder:
    def __init__(
        self,
        loader: Loader,
        marker: Marker,
        interval_seconds: float,
        retire: Retire | None = None,
        adjust: Adjust | None = None,
        tick: Callable[[], object] | None = None,
    ) -> None:
        self._loader, self._marker, self._interval = loader, marker, interval_seconds
        self._retire, self._adjust, self._tick = retire, adjust, tick
        self._stop = threading.Event()
        self._swap = threading.Lock()
        self._thread: threading.Thread | None = None
        self._seen = marker()
        self.loaded: Snapshot = loader()  # as built; `current` is what requests read
        self.current: Snapshot = self._live(self.loaded)
        self.reloads = 0
        self._retired()

    def _retired(self) -> None:
        if self._retire is not None:
            try:
                self._retire(self.loaded)
            except Exception:  # noqa: BLE001 - leftovers are retried after the next load
                log.exception("could not free replaced snapshots")

    def check_now(self) -> bool:
        """Rebuild and swap when the marker moved; True when a new snapshot went live."""
        seen = self._marker()
        if seen == self._seen:
            return False
        fresh = self._loader()
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
