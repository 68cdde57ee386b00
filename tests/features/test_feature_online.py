"""Online store: bulk bytes equal Feast's own, and a build reads back the offline values."""

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
from features.catalog import TABLES
from features.online_sqlite import encode_entity_keys, encode_values, varint
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
    from features.build import build_features
    from features.store import get_store, latest_snapshot, online_features

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
    from features.store import apply_definitions, get_store, historical_features
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
