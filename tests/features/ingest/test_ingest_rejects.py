"""Every class of bad row lands in quarantine with its reason; nothing is lost; limits hold."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.ingest.pipeline import IngestError

ORDERS = """
user_id,product_id,ordered_at,quantity,amount,note
u1,p1,2025-03-01 10:00:00,2,3.5,ok
u1,p1,2025-03-01 10:00:00,2,3.5,ok
u1,p1,2025-03-01 10:00:00,2,3.5,other note
,p1,2025-03-01,1,1,missing user
u1,p1,yesterday-ish,1,1,bad timestamp
u1,p1,2025-03-01,0,1,zero quantity
u1,p1,2025-03-01,-2,1,negative quantity
u1,p1,2025-03-01,1,-0.5,negative amount
u1,p1,2025-03-01,two,1,bad number
u1,p1,2026-02-01,1,1,future
u1,p9,2025-03-01,1,1,unknown product
u9,p1,2025-03-01,1,1,unknown user
u1,p1,2025-03-01,1,1
u2,p2,2025-03-02T08:00:00+08:00,1,2,ok
"""
EXPECTED = {
    2: "duplicate line",
    4: "missing user_id",
    5: "unparseable timestamp ordered_at",
    6: "quantity <= 0",
    7: "quantity <= 0",
    8: "amount < 0",
    9: "unparseable number quantity",
    10: "ordered_at after the as-of date",
    11: "unknown product_id (not in products)",
    12: "unknown user_id (not in users)",
    13: "wrong number of fields",
}


@pytest.fixture
def shop(write) -> None:
    write("orders.csv", ORDERS)
    write("products.csv", "product_id,category_id\np1,c1\np2,c1\np2,c2\n,c3")
    write("users.csv", "user_id,registered_at\nu1,2025-01-01\nu2,not a date\nu2,2025-01-01")
    write("inventory.csv", "product_id,snapshot_at,stock_qty\np1,2025-03-01,5\np2,2025-03-01,-1")


def test_each_bad_row_is_quarantined_with_its_reason(shop, run, read) -> None:
    report = run()
    quarantine = read("quarantine/orders")
    got = dict(zip(quarantine["source_row"], quarantine["reason"], strict=True))
    assert got == EXPECTED
    assert report.rows_in["orders"] == 14
    assert report.rows_ok["orders"] == 14 - len(EXPECTED) == len(read("orders"))
    # an extra column tells lines apart: row 3 differs from row 1 only in "note" and is kept
    assert report.rejected[("orders", "quantity <= 0")] == 2
    assert set(quarantine["source_file"]) == {str(Path(report.sources["orders"]))}
    assert quarantine.loc[quarantine["source_row"] == 5, "ordered_at"].item() == "yesterday-ish"
    assert quarantine.loc[quarantine["source_row"] == 13, "raw_line"].item() == (
        "u1,p1,2025-03-01,1,1"
    )


def test_other_tables_reject_bad_keys_values_and_repeats(shop, run, read) -> None:
    report = run()
    assert read("quarantine/inventory")["reason"].tolist() == ["stock_qty < 0"]
    assert read("quarantine/products")["reason"].tolist() == [
        "duplicate product_id",
        "missing product_id",
    ]
    # u2's first line has a bad timestamp, so its second line is the one kept (not a repeat)
    assert read("quarantine/users")["reason"].tolist() == ["unparseable timestamp registered_at"]
    assert read("users")["user_id"].tolist() == ["u1", "u2"]
    for table, n_in in report.rows_in.items():
        assert n_in == report.rows_ok[table] + report.rows_rejected[table], table
        assert report.rows_ok[table] == len(read(table)), table
        rejected = sum(n for (t, _), n in report.rejected.items() if t == table)
        assert rejected == report.rows_rejected[table], table


def test_clean_run_removes_old_quarantine(write, run, tmp_path) -> None:
    write("orders.csv", "user_id,product_id,ordered_at,quantity,amount\nu1,p1,2025-01-01,0,1")
    assert run().quarantine == {"orders": tmp_path / "quarantine" / "orders.parquet"}
    write("orders.csv", "user_id,product_id,ordered_at,quantity,amount\nu1,p1,2025-01-01,1,1")
    assert run().quarantine == {}
    assert not (tmp_path / "quarantine" / "orders.parquet").exists()


def test_reject_share_limit_fails_after_writing_quarantine(write, run, read, tmp_path) -> None:
    write(
        "orders.csv",
        "user_id,product_id,ordered_at,quantity,amount\n"
        "u1,p1,2025-01-01,1,1\nu1,p1,2025-01-02,0,1\nu1,p1,2025-01-03,1,1",
    )
    with pytest.raises(IngestError, match=r"orders: 1 of 3 rows rejected \(33\.33%\).*5\.00%"):
        run(max_reject_share=0.05)
    assert read("quarantine/orders")["reason"].tolist() == ["quantity <= 0"]
    assert not (tmp_path / "data" / "orders.parquet").exists()
    assert not list((tmp_path / "data").glob(".*"))  # no temp files left behind
    assert run(max_reject_share=0.5).rows_ok["orders"] == 2


def test_missing_required_column_names_file_and_column(write, run) -> None:
    path = write("orders.csv", "user_id,product_id,ordered_at,amount\nu1,p1,2025-01-01,1")
    with pytest.raises(IngestError, match=rf"{path}.*'quantity'"):
        run()


def test_missing_required_column_in_optional_table(write, run) -> None:
    write("orders.csv", "user_id,product_id,ordered_at,quantity,amount\nu1,p1,2025-01-01,1,1")
    path = write("inventory.csv", "product_id,stock_qty\np1,3")
    with pytest.raises(IngestError, match=rf"{path}.*'snapshot_at'"):
        run()


def test_missing_orders_file_is_named(write, run, tmp_path) -> None:
    write("products.csv", "product_id\np1")
    with pytest.raises(IngestError, match="orders.csv"):
        run()
    with pytest.raises(IngestError, match="nope.csv"):
        run(files={"orders": tmp_path / "nope.csv"})


@pytest.mark.parametrize(
    "spec",
    [
        "upc",
        "=product_id",
        "upc=",
        "nosuch:upc=product_id",
        "orders:upc=category_id",
        "upc=prodcut_id",
        ":a=product_id",
    ],
)
def test_bad_map_is_an_error(write, run, spec) -> None:
    write("orders.csv", "user_id,upc,ordered_at,quantity,amount\nu1,p1,2025-01-01,1,1")
    with pytest.raises(IngestError, match="--map"):
        run(maps=(spec,))


def test_map_onto_an_existing_column_is_an_error(write, run) -> None:
    write("orders.csv", "user_id,upc,product_id,ordered_at,quantity,amount\nu,p,q,2025-01-01,1,1")
    with pytest.raises(IngestError, match="two columns"):
        run(maps=("upc=product_id",))


def test_previous_tables_not_in_source_are_removed(write, run, tmp_path) -> None:
    write("orders.csv", "user_id,product_id,ordered_at,quantity,amount\nu1,p1,2025-01-01,1,1")
    stale = tmp_path / "data" / "pushes.parquet"
    stale.parent.mkdir(parents=True)
    pd.DataFrame({"push_id": ["x"]}).to_parquet(stale)
    report = run()
    assert not stale.exists()
    assert any("pushes" in note for note in report.notes)
