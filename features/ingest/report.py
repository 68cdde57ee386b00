"""What an ingest run did: counts per table and reason, derived tables, dropped columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.table import Table as RichTable


class IngestError(Exception):
    """Bad input that stops the run; the message names the file, column or limit."""


@dataclass
class IngestReport:
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_ok: dict[str, int] = field(default_factory=dict)
    rows_rejected: dict[str, int] = field(default_factory=dict)
    rejected: dict[tuple[str, str], int] = field(default_factory=dict)  # (table, reason) -> rows
    derived: list[str] = field(default_factory=list)
    unknown_columns: dict[str, list[str]] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)
    quarantine: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)  # "enables: ..." / "lacks: ..."
    seconds: float = 0.0

    def add_rejects(self, table: str, reasons: dict[str, int]) -> None:
        for reason, count in reasons.items():
            key = (table, reason)
            self.rejected[key] = self.rejected.get(key, 0) + count

    def reject_share(self, table: str) -> float:
        return self.rows_rejected.get(table, 0) / max(self.rows_in.get(table, 0), 1)

    def summary_lines(self) -> list[str]:
        """Plain-text summary, one fact per line (what the CLI prints without rich)."""
        lines = []
        for table, n_in in self.rows_in.items():
            lines.append(
                f"{table}: {n_in} in, {self.rows_ok[table]} ok, {self.rows_rejected[table]} "
                f"rejected ({self.reject_share(table):.2%}) from {self.sources.get(table, '?')}"
            )
            lines += [f"  rejected {n}: {r}" for (t, r), n in self.rejected.items() if t == table]
        lines += [f"derived {text}" for text in self.derived]
        lines += [
            f"dropped unknown columns of {t}: {', '.join(c)}"
            for t, c in self.unknown_columns.items()
        ]
        lines += [f"quarantine {t}: {p}" for t, p in self.quarantine.items()]
        lines += [f"note: {n}" for n in self.notes]
        lines += self.capabilities
        rows = sum(self.rows_in.values())
        if self.seconds > 0:
            lines.append(f"{rows} rows in {self.seconds:.1f} s ({rows / self.seconds:,.0f} rows/s)")
        return lines

    def to_rich_table(self) -> RichTable:
        """Counts per table and reason as a rich table."""
        from rich.table import Table as RichTable

        out = RichTable(title="ingest")
        for name in ("table", "rows in", "ok", "rejected", "reason"):
            out.add_column(name, justify="left" if name in ("table", "reason") else "right")
        for table, n_in in self.rows_in.items():
            out.add_row(
                table, f"{n_in:,}", f"{self.rows_ok[table]:,}", f"{self.rows_rejected[table]:,}", ""
            )
            for (t, reason), n in self.rejected.items():
                if t == table:
                    out.add_row("", "", "", f"{n:,}", reason)
        return out


def capability_lines(tables: dict[str, set[str]], derived: set[str]) -> list[str]:
    """What the ingested data enables and what it lacks, one line each.

    TABLES: each written contract table -> its columns; DERIVED: the tables made from orders.
    """
    groups = "groups" in tables and "memberships" in tables
    lines = ["enables: repurchase scores, category interest and behaviour tags per user"]
    if groups:
        lines.append("enables: push lists per group (groups and memberships are known)")
    else:
        lines.append(
            "lacks: no group or store column: no push lists (give orders.group_id or "
            "store_id, or groups + memberships tables)"
        )
    if "inventory" in tables:
        lines.append("enables: slow movers from stock and sales, with stock caps")
    else:
        lines.append("lacks: no inventory: slow movers are inferred from sales pace, no stock caps")
    if "products" in derived:
        lines.append(
            "lacks: no products table: each product is its own category (give products "
            "with category_id for category interest)"
        )
    users = tables.get("users", set())
    profile = [c for c in ("identity_type", "channel", "region") if c not in users]
    if "users" in derived or profile:
        lines.append(
            "lacks: no user "
            + "/".join(profile or ["identity_type", "channel", "region"])
            + ": no identity, channel or region tags (B2B tags need a B2B identity_type)"
        )
    return lines
