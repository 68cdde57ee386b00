"""Ingest teaches the contract: every missing column at once with its meaning, amount from a
unit price, a bad byte costs its row (quarantined) not the file, and the summary says what the
data enables and lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.ingest.pipeline import IngestError


def test_every_missing_required_column_is_named_with_its_meaning(write, run) -> None:
    path = write("orders.csv", "customer,sku,when\nu1,p1,2025-01-01")
    with pytest.raises(IngestError) as err:
        run()
    text = str(err.value)
    assert str(path) in text
    for col in ("user_id", "product_id", "ordered_at", "quantity", "amount"):
        assert f"'{col}'" in text  # all five at once, not the first one only
    assert "line total" in text  # what amount is
    assert "unit_price" in text  # ... and the way round it
    assert "customer, sku, when" in text  # the file's own columns, to pick from
    assert "--map" in text
    assert "\n" not in text  # one line


def test_amount_is_unit_price_times_quantity(write, run, read) -> None:
    write(
        "orders.csv",
        """
        user_id,product_id,ordered_at,quantity,price_each,colour
        u1,p1,2025-01-01,3,2.5,red
        u2,p1,2025-01-02,2,,red
        u3,p1,2025-01-03,1,-1,red
    """,
    )
    report = run(maps=("price_each=unit_price",))
    orders = read("orders")
    assert list(orders.columns) == ["user_id", "product_id", "ordered_at", "quantity", "amount"]
    assert orders["amount"].tolist() == [7.5]
    assert report.rejected == {
        ("orders", "missing unit_price"): 1,
        ("orders", "unit_price < 0"): 1,
    }
    assert report.unknown_columns == {"orders": ["colour"]}  # price_each was used
    assert any("amount = unit_price x quantity" in line for line in report.derived)
    assert read("products")["price"].tolist() == [2.5]


def test_amount_given_wins_over_unit_price(write, run, read) -> None:
    write(
        "orders.csv",
        "user_id,product_id,ordered_at,quantity,amount,unit_price\nu1,p1,2025-01-01,2,5,9",
    )
    report = run()
    assert read("orders")["amount"].tolist() == [5.0]
    assert report.unknown_columns == {"orders": ["unit_price"]}


def _bad_bytes_file(path: Path, encoding: str) -> None:
    lines = [
        "user_id,product_id,ordered_at,quantity,amount,store_id".encode(encoding),
        "u1,p1,2025-01-01,1,2,店铺 7".encode(encoding),
        b"u2,p1,2025-01-02,1,2,S\xff\xfe1",  # invalid in UTF-8 and in GB18030
        "u3,p1,2025-01-03,1,2,店铺 7".encode(encoding),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(lines) + b"\n")


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_invalid_bytes_quarantine_their_row_only(tmp_path, run, read, encoding) -> None:
    _bad_bytes_file(tmp_path / "src" / "orders.csv", encoding)
    report = run(csv_encoding=encoding)
    assert read("orders")["user_id"].tolist() == ["u1", "u3"]
    quarantine = read("quarantine/orders")
    assert quarantine["reason"].tolist() == [f"invalid {encoding} bytes in store_id"]
    assert quarantine["source_row"].tolist() == [2]
    assert quarantine["user_id"].tolist() == ["u2"]
    assert "\\xff" in quarantine["store_id"].iloc[0]  # the bad bytes shown, escaped
    assert read("groups")["group_id"].tolist() == ["店铺 7"]  # no mojibake group
    assert report.rows_rejected["orders"] == 1


def test_many_invalid_bytes_suggest_the_encoding(tmp_path, run) -> None:
    _bad_bytes_file(tmp_path / "src" / "orders.csv", "gb18030")
    with pytest.raises(IngestError, match="CSV_ENCODING"):
        run(max_reject_share=0.0)


def test_summary_says_what_the_data_enables_and_lacks(write, run) -> None:
    write("orders.csv", "user_id,product_id,ordered_at,quantity,amount\nu1,p1,2025-01-01,1,2")
    lines = run().summary_lines()
    assert any(line.startswith("lacks: no group or store column: no push lists") for line in lines)
    assert "lacks: no inventory: slow movers are inferred from sales pace, no stock caps" in lines
    assert any(line.startswith("lacks: no products table") for line in lines)

    write(
        "orders.csv",
        "user_id,product_id,ordered_at,quantity,amount,store_id\nu1,p1,2025-01-01,1,2,s1",
    )
    write("inventory.csv", "product_id,snapshot_at,stock_qty\np1,2025-01-01,4")
    write("products.csv", "product_id,category_id\np1,c1")
    lines = run().summary_lines()
    assert any(line.startswith("enables: push lists per group") for line in lines)
    assert any(line.startswith("enables: slow movers from stock") for line in lines)
    assert not any("no products table" in line or "no inventory" in line for line in lines)


def test_bad_bytes_in_a_line_with_the_wrong_number_of_fields(tmp_path, run, read) -> None:
    path = tmp_path / "src" / "orders.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(
        b"user_id,product_id,ordered_at,quantity,amount\n"
        b"u1,p1,2025-01-01,1,2\nu2,p\xff,2025-01-01,1,2,extra\nu3,p1,2025-01-02,1,2\n"
    )
    run()
    assert read("orders")["user_id"].tolist() == ["u1", "u3"]
    quarantine = read("quarantine/orders")
    assert quarantine["raw_line"].tolist() == ["u2,p\\xff,2025-01-01,1,2,extra"]
    assert quarantine["source_row"].tolist() == [2]


def test_utf16_csv_is_read(tmp_path, run, read) -> None:
    path = tmp_path / "src" / "orders.csv"
    path.parent.mkdir(parents=True)
    text = "user_id,product_id,ordered_at,quantity,amount\n店铺 7,p1,2025-01-01,1,2\n"
    path.write_bytes(text.encode("utf-16"))
    run(csv_encoding="utf-16")
    assert read("orders")["user_id"].tolist() == ["店铺 7"]
