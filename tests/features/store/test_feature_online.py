"""Online store: bulk bytes equal Feast's own, the bulk SQLite load writes exactly the rows Feast's
writer writes, swaps its file in atomically, and a build reads back the offline values."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from configs import columns as C
from configs.settings import Settings
from configs.workspace import Workspace
from features.store.catalog import TABLES
from features.store.online_encode import encode_entity_keys, encode_values, value_texts, varint
from tests.features.feature_data import AS_OF

SAMPLES: dict[str, tuple[pa.Array, str]] = {
    "float": (pa.array([1.5, None, float("nan"), -0.0, 1e300], pa.float64()), "DOUBLE"),
    "int": (pa.array([0, 1, 127, 128, 300, -1, None, 2**62], pa.int64()), "INT64"),
    "str": (pa.array(["a", "", None, "店铺 7", "x" * 200]), "STRING"),
    "float_array": (
        pa.array([[1.0, 2.5], [], None, [0.1] * 70], pa.list_(pa.float32())),
        "FLOAT_LIST",
    ),
    "str_array": (
        pa.array([["a", "bc"], [], None, ["品类"] * 3], pa.list_(pa.string())),
        "STRING_LIST",
    ),
}


def _feast_bytes(values: pa.Array, value_type: str) -> list[bytes]:
    from feast.type_map import python_values_to_proto_values
    from feast.value_type import ValueType

    py = values.to_pandas().tolist()
    protos = python_values_to_proto_values(py, getattr(ValueType, value_type))
    return [p.SerializeToString() for p in protos]


@pytest.mark.parametrize("dtype", sorted(SAMPLES))
def test_bulk_value_bytes_equal_feasts(dtype: str) -> None:
    values, value_type = SAMPLES[dtype]
    expected = _feast_bytes(values, value_type)
    # Feast writes an empty list as a list message; a null list as the empty Value.
    assert encode_values(values, dtype).to_pylist() == expected
    sliced = values.slice(1)
    assert encode_values(sliced, dtype).to_pylist() == expected[1:]


@pytest.mark.parametrize("dtype", sorted(SAMPLES))
def test_value_texts_equal_feasts(dtype: str) -> None:
    from feast.infra.online_stores.helpers import extract_text_and_num
    from feast.protos.feast.types.Value_pb2 import Value

    values, value_type = SAMPLES[dtype]
    if dtype == "float":  # Arrow would print these as "3", "1e+15", "0.00001"
        values = pa.concat_arrays([values, pa.array([3.0, 1e15, 1e-5, 0.1 + 0.2])])
    expected = []
    for raw in _feast_bytes(values, value_type):
        proto = Value()
        proto.ParseFromString(raw)
        expected.append(extract_text_and_num(proto, False)[0])
    assert value_texts(values, dtype).to_pylist() == expected


def test_varint_and_entity_key_bytes_equal_feasts() -> None:
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    assert varint(np.array([0, 1, 300])).to_pylist() == [b"\x00", b"\x01", b"\xac\x02"]
    keys = ["u1", "", "用户-42"]
    got = encode_entity_keys(C.USER_ID, pa.array(keys)).to_pylist()
    want = [
        serialize_entity_key(
            EntityKey(join_keys=[C.USER_ID], entity_values=[Value(string_val=k)]),
            entity_key_serialization_version=3,
        )
        for k in keys
    ]
    assert got == want


def _normalise(value: object) -> object:
    if isinstance(value, np.ndarray | list):
        return [round(float(v), 5) if isinstance(v, float | np.floating) else v for v in value]
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return round(float(value), 6) if isinstance(value, float | np.floating) else value


@pytest.mark.integration
@pytest.mark.parametrize("writer", ["bulk", "feast"])
def test_online_values_equal_latest_offline_rows(
    tiny_ws: Workspace, tiny_settings: Settings, writer: str
) -> None:
    from features.compute.build import build_features
    from features.store.feast_store import get_store, latest_snapshot, online_features

    settings = tiny_settings.model_copy(
        update={
            "features": tiny_settings.features.model_copy(
                update={"online_writer": writer, "online_chunk_rows": 25}
            )
        }
    )
    summary = build_features(settings, tiny_ws, AS_OF, show_progress=False)
    assert summary["as_of"] == AS_OF.isoformat() and summary["online"]["rows"] > 0
    store = get_store(tiny_ws, settings.features)
    for name, spec in TABLES.items():
        offline = latest_snapshot(tiny_ws, name)
        assert (offline[C.EVENT_TIMESTAMP] == pd.Timestamp(AS_OF, tz="UTC")).all()
        keys = offline[spec.entity].tolist()[:40]
        online = online_features(store, name, keys).set_index(spec.entity)
        expected = offline.set_index(spec.entity).loc[keys, spec.names]
        for col in spec.names:
            got = [_normalise(v) for v in online[col]]
            want = [_normalise(v) for v in expected[col]]
            assert got == want, (name, col)


@pytest.mark.integration
def test_historical_features_match_hand_values(tmp_path: Path, tiny_settings: Settings) -> None:
    from configs.workspace import resolve_workspace
    from features.store.feast_store import apply_definitions, get_store, historical_features
    from tests.features.feature_data import build_offline, orders_frame

    orders = orders_frame(
        [
            ("u1", "p1", "2025-06-01T08:00", 2, 10.0),
            ("u1", "p1", "2025-06-20T09:00", 1, 5.0),
            ("u2", "p1", "2025-06-25T09:00", 1, 5.0),
        ]
    )
    dates = [date(2025, 6, 15), AS_OF]
    build_offline(tmp_path, {"orders": orders}, dates, tiny_settings)
    ws = resolve_workspace(tmp_path)
    store = get_store(ws, tiny_settings.features)
    apply_definitions(store, ws)
    entity_df = pd.DataFrame(
        {
            C.USER_ID: ["u1", "u1", "u2"],
            C.EVENT_TIMESTAMP: pd.to_datetime(
                ["2025-06-20T12:00", "2025-07-01T00:00", "2025-06-16T00:00"], utc=True
            ),
        }
    )
    got = (
        historical_features(store, entity_df, "interest_v1")
        .sort_values([C.USER_ID, C.EVENT_TIMESTAMP])
        .reset_index(drop=True)
    )
    # row 0 sees the 2025-06-15 snapshot: one order day, 14 days ago
    assert got.loc[0, "recency_days"] == 14 and got.loc[0, "order_days_total"] == 1
    assert got.loc[1, "recency_days"] == 11 and got.loc[1, "spend_30d"] == pytest.approx(15.0)
    assert list(got.loc[1, "interest_categories"]) == ["p1"]
    assert pd.isna(got.loc[2, "recency_days"]) or got.loc[2, "order_days_total"] == 0


def _settings_with(settings: Settings, **update: object) -> Settings:
    return settings.model_copy(update={"features": settings.features.model_copy(update=update)})


def _dump(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every Feast table's rows, in key order (what Feast reads and filters on)."""
    import sqlite3

    con = sqlite3.connect(db)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            name: con.execute(
                f"SELECT entity_key, feature_name, value, value_text, event_ts, created_ts "
                f'FROM "{name}" ORDER BY entity_key, feature_name'
            ).fetchall()
            for name in names
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def feast_loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Settings, dict]:
    """A tiny build whose online store Feast's own writer filled, and its rows."""
    from configs.settings import load_settings
    from configs.workspace import resolve_workspace
    from features.compute.build import build_features
    from tests.features.feature_data import random_tables, write_tables

    ws = resolve_workspace(tmp_path_factory.mktemp("online") / "ws")
    write_tables(ws, random_tables())
    settings = load_settings("tiny", overrides={"training": {"n_snapshots": 2}})
    settings = _settings_with(settings, online_writer="feast", online_chunk_rows=40)
    build_features(settings, ws, AS_OF, show_progress=False)
    return ws, settings, _dump(ws.feast_online)


@pytest.mark.integration
def test_bulk_sqlite_rows_equal_feast_writers(feast_loaded) -> None:  # type: ignore[no-untyped-def]
    """Bulk load into the store Feast filled: same tables, same rows, byte for byte (value,
    value_text, event_ts), and Feast's reads and a re-apply still work on its tables."""
    from features.store.feast_store import apply_definitions, get_store, online_features
    from features.store.online import load_online

    ws, settings, feast_rows = feast_loaded
    assert sum(len(r) for r in feast_rows.values()) > 1000
    bulk = _settings_with(settings, online_writer="bulk", online_chunk_rows=7)
    store = get_store(ws, bulk.features)
    out = load_online(store, ws, AS_OF, bulk.features)
    assert out["rows"] == sum(t["rows"] for t in out["tables"].values()) > 0
    assert _dump(ws.feast_online) == feast_rows
    # the store that loaded reads the new file; a re-apply keeps our tables and index names
    apply_definitions(store, ws)
    users = sorted(set(rows_at_latest(ws)))[:5]
    got = online_features(store, "user_activity", users, ["order_days_30d"])
    assert got["order_days_30d"].notna().all()
    assert _dump(ws.feast_online) == feast_rows


def rows_at_latest(ws: Workspace) -> list[str]:
    from features.store.feast_store import latest_snapshot

    return latest_snapshot(ws, "user_activity")[C.USER_ID].tolist()


@pytest.mark.integration
def test_feast_reads_use_the_primary_key(feast_loaded) -> None:  # type: ignore[no-untyped-def]
    """Feast's online_read query is served by the WITHOUT ROWID primary key, not a scan
    (its `_ek` index name is held by an empty partial index)."""
    import sqlite3

    from features.store.feast_store import get_store
    from features.store.online import load_online

    ws, settings, _ = feast_loaded
    bulk = _settings_with(settings, online_writer="bulk")
    load_online(get_store(ws, bulk.features), ws, AS_OF, bulk.features, ["user_activity"])
    con = sqlite3.connect(ws.feast_online)
    table = "grouppush_user_activity"
    ddl = con.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    plan = con.execute(
        f'EXPLAIN QUERY PLAN SELECT entity_key, feature_name, value, event_ts FROM "{table}" '
        "WHERE entity_key IN (?, ?) ORDER BY entity_key",
        (b"a", b"b"),
    ).fetchall()
    con.close()
    assert "WITHOUT ROWID" in ddl
    assert any("PRIMARY KEY" in row[-1] for row in plan), plan
    assert not any("SCAN" in row[-1] for row in plan), plan


@pytest.mark.integration
def test_failed_load_leaves_the_live_store_whole(
    feast_loaded, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A load killed half-way changes nothing a reader sees and leaves no temp file; a reader
    that was open during a successful load keeps the complete old file."""
    import sqlite3

    from features.store import online_sqlite
    from features.store.feast_store import get_store
    from features.store.online import load_online

    ws, settings, feast_rows = feast_loaded
    bulk = _settings_with(settings, online_writer="bulk", online_chunk_rows=5)
    load_online(get_store(ws, bulk.features), ws, AS_OF, bulk.features)
    before = _dump(ws.feast_online)
    real = online_sqlite._stage_rows
    calls = {"n": 0}

    def dying(*args: object) -> object:
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("killed mid-load")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(online_sqlite, "_stage_rows", dying)
    with pytest.raises(RuntimeError, match="killed"):
        load_online(get_store(ws, bulk.features), ws, AS_OF, bulk.features)
    assert _dump(ws.feast_online) == before == feast_rows
    assert [p.name for p in ws.feast.iterdir() if "loading" in p.name] == []
    monkeypatch.setattr(online_sqlite, "_stage_rows", real)
    reader = sqlite3.connect(ws.feast_online)
    n_before = reader.execute('SELECT count(*) FROM "grouppush_user_activity"').fetchone()
    load_online(get_store(ws, bulk.features), ws, AS_OF, bulk.features, ["user_activity"])
    assert reader.execute('SELECT count(*) FROM "grouppush_user_activity"').fetchone() == n_before
    reader.close()
    assert _dump(ws.feast_online) == feast_rows  # unwritten tables were carried over


def test_wide_values_round_trip(tmp_path: Path) -> None:
    """Entities with over ~55 kB of values (staging code points past the surrogates) and
    non-ASCII text load byte-exact."""
    import sqlite3
    from datetime import UTC, datetime

    from features.store.catalog import Feature, FeatureTable
    from features.store.online_sqlite import SqliteLoad

    spec = FeatureTable(
        "wide",
        C.USER_ID,
        (
            Feature("note", "str", "-", "long text"),
            Feature("score", "float", "-", "a number"),
            Feature("items", "str_array", "-", "a list"),
        ),
        "test table",
    )
    rows = pa.table(
        {
            C.USER_ID: ["u2", "u1", "u3"],
            "note": ["店" * 30_000, None, "x"],
            "score": [1.0, None, 2.5],
            "items": [["a"] * 20_000, [], None],
        }
    )
    db = tmp_path / "online.db"
    with SqliteLoad(db) as load:
        load.write("t", spec, rows, datetime(2025, 7, 1, tzinfo=UTC), chunk_rows=2)
    con = sqlite3.connect(db)
    got = {
        (k, f): (v, t)
        for k, f, v, t in con.execute("SELECT entity_key, feature_name, value, value_text FROM t")
    }
    con.close()
    keys = encode_entity_keys(C.USER_ID, rows.column(C.USER_ID)).to_pylist()
    types = {"note": "STRING", "score": "DOUBLE", "items": "STRING_LIST"}
    for feature in spec.features:
        col = rows.column(feature.name).combine_chunks()
        values = _feast_bytes(col, types[feature.name])
        texts = value_texts(col, feature.dtype).to_pylist()
        for key, value, text in zip(keys, values, texts, strict=True):
            assert got[(key, feature.name)] == (value, text), feature.name
