"""Write each staged date file on one background thread while the build computes the next table.

Why: encoding and compressing a date's Parquet files took ~6 s per as-of date on the large
preset (1M users), all of it on the main thread while the second core idled; pyarrow's writer
releases the GIL, so the write overlaps the next table's numpy / DuckDB work. At most one
write is in flight (`submit` waits for the previous one), which bounds the extra memory to one
table's Arrow rows; `wait` re-raises a failed write, so nothing is committed after one.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class WriteBehind:
    """`submit(fn, *args)` runs fn on the writer thread after the previous call finished."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feature-write")
        self._pending: Future[Any] | None = None

    def wait(self) -> None:
        """Block until the write in flight (if any) is done; raises its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self.wait()
        self._pending = self._pool.submit(fn, *args)

    def close(self) -> None:
        """Finish the last write (raising its error) and stop the thread."""
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)
