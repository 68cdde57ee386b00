"""One settings model: configs/base.yaml (+ a preset), then GROUPPUSH__* env vars, then CLI flags.

Every section forbids unknown keys so a typo in YAML or an env var fails loudly, naming the key.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

CONFIG_DIR = Path(__file__).resolve().parent
PRESETS = ("tiny", "demo", "large", "shop")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IngestSettings(_Section):
    max_reject_share: float = Field(default=0.05, ge=0, le=1)
    chunk_rows: int = Field(default=500_000, gt=0)
    as_of: date | None = None  # timestamps after this date are rejected; default: today (UTC)
    csv_encoding: str = "utf-8"  # text encoding of CSV inputs (e.g. gb18030 for GBK exports)


class SimulateSettings(_Section):
    seed: int = 42
    n_users: int = 2_000
    n_stores: int = 8
    n_departments: int = 4
    categories_per_department: int = 5
    products_per_category: int = 8
    start_date: date = date(2025, 1, 1)
    end_date: date = date(2025, 12, 31)
    b2b_user_share: float = 0.15
    koc_share: float = 0.03
    zombie_group_share: float = 0.12
    slow_moving_share: float = 0.2
    push_campaigns_per_group: int = 6
    holdout_share: float = 0.2
    horizon_days: int = 30
    chunk_users: int = 50_000
    # generative-model knobs (simulator only)
    lines_per_user_year: float = Field(20.0, gt=0)  # base hazard is calibrated to hit this
    max_categories_per_user: int = Field(30, gt=0)  # sparse state: top-K categories per user
    churn_share: float = Field(0.25, ge=0, le=1)
    new_user_share: float = Field(0.04, ge=0, le=1)  # registered in the last 30 days
    new_product_share: float = Field(0.08, ge=0, le=1)  # launched in the last 60 days
    # product choice inside a category (sim_choice): shares of a purchase, the rest explores;
    # defaults put the shop preset near a real grocery log (benchmarks/sim_vs_real.py)
    loyalty: float = Field(0.3, ge=0, le=1)  # one of the member's favourite products
    substitute_share: float = Field(0.25, ge=0, le=1)  # a substitute of a favourite (same set)
    group_adoption: float = Field(0.03, ge=0, le=1)  # what a group member bought lately
    favourites_per_category: int = Field(4, gt=0)
    substitute_set_size: int = Field(6, gt=0)  # products per substitute set (brand line)
    adopt_share: float = Field(0.2, ge=0, le=1)  # a non-favourite buy becomes a favourite
    b2b_group_size: int = Field(200, gt=0)
    high_frequency_cycle_days: float = 14.0
    push_effect_days: int = Field(7, gt=0)
    push_strength: float = Field(0.05, ge=0)  # daily hazard added at full interest

    @model_validator(mode="after")
    def _choice_shares(self) -> SimulateSettings:
        total = self.loyalty + self.substitute_share + self.group_adoption
        if total > 1:
            raise ValueError(
                f"simulate.loyalty + substitute_share + group_adoption = {total:g} > 1; "
                "lower one of them (the rest of a purchase's chance is exploration)"
            )
        return self


class FeatureSettings(_Section):
    engine: Literal["duckdb", "spark"] = "duckdb"
    as_of: date | None = None
    half_life_days: float = Field(default=30.0, gt=0)
    spread_weight: float = Field(default=0.3, ge=0, le=1)
    similarity_top_k: int = Field(default=10, gt=0)
    similarity_min_users: int = Field(default=2, gt=0)  # co-buyers needed to link categories
    interest_top_n: int = Field(default=30, gt=0)
    high_frequency_cycle_days: float = 14.0
    slow_moving_min_days_of_inventory: float = 60.0
    slow_moving_max_sell_through: float = 0.25
    # without a stock row, slow movers come from sales velocity (features/store/catalog.py):
    # units in the recent window <= max_velocity_ratio x the product's own baseline pace
    slow_moving_recent_days: int = Field(default=28, gt=0)
    slow_moving_baseline_days: int = Field(default=365, gt=0)  # trailing pace, recent excluded
    slow_moving_max_velocity_ratio: float = Field(default=0.5, ge=0)
    slow_moving_min_history_days: int = Field(default=91, gt=0)  # first sale at least this old
    slow_moving_min_expected_units: float = Field(default=8.0, gt=0)  # pace x recent window
    slow_moving_alive_days: int = Field(default=14, gt=0)  # last sale within: still on sale
    active_window_days: int = 30
    readiness_horizon_days: int = Field(default=30, gt=0)  # keep = training.horizon_days
    zombie_max_active_share: float = 0.05
    early_stage_days: int = 30
    late_max_active_share: float = 0.25
    online_store: Literal["sqlite", "redis"] = "sqlite"
    # may carry a password (host:port,password=...): a secret, masked in dumps and logs
    redis_connection_string: SecretStr = SecretStr("127.0.0.1:6379")
    tags_file: str = "tags.yaml"  # relative paths resolve against configs/
    online_chunk_rows: int = Field(default=50_000, gt=0)  # rows per online write call
    online_writer: Literal["bulk", "feast"] = "bulk"  # bulk: SQLite or Redis fast path (online.py)
    duckdb_memory_limit: str = "6GB"  # beyond it the feature build spills to disk
    duckdb_threads: int = Field(default=2, gt=0)
    # engine: spark (extra `spark`): any Spark master URL (local[2], spark://host:7077, yarn)
    spark_master: str = "local[2]"
    spark_shuffle_partitions: int = Field(default=8, gt=0)
    spark_conf: dict[str, str] = {}  # extra Spark settings (executor memory, jars, ...)

    @model_validator(mode="after")
    def _velocity_windows(self) -> FeatureSettings:
        if self.slow_moving_recent_days >= self.slow_moving_baseline_days:
            raise ValueError(
                "features.slow_moving_recent_days must be < features.slow_moving_baseline_days"
            )
        if self.slow_moving_min_history_days <= self.slow_moving_recent_days:
            raise ValueError(
                "features.slow_moving_min_history_days must be > features.slow_moving_recent_days"
            )
        return self


class TrainingSettings(_Section):
    seed: int = 42
    as_of: date | None = None
    horizon_days: int = Field(default=30, gt=0)
    n_snapshots: int = Field(default=4, gt=0)
    snapshot_spacing_days: int = Field(default=30, gt=0)
    # None: snapshots at as_of - horizon - k * spacing (they move with as_of). A date: they sit
    # on a fixed grid (anchor + k * spacing), so a daily build reuses them (build_plan)
    snapshot_anchor: date | None = None
    num_boost_round: int = 400
    learning_rate: float = 0.05
    # the interest model's own rate (None: learning_rate). Demo: 0.1 stops at ~90 trees
    # instead of ~280 with the same held-out NDCG@10 / recall@5 (0.496 / 0.476), and every
    # tree is paid again by the holdout and by each service start scoring all users' pairs
    interest_learning_rate: float | None = Field(0.1, gt=0)
    num_leaves: int = 31
    min_child_samples: int = 40
    early_stopping_rounds: int = 30
    interest_candidates: int = 30
    interest_popular_candidates: int = 10
    decay_half_lives: list[float] = [28.0, 56.0, 112.0]
    segment_min_score: float = 0.3
    segment_top_share: float = 0.1
    n_personas: int = 8
    repurchase_tag_threshold: float = 0.6
    calibration: Literal["isotonic", "sigmoid"] = "sigmoid"  # sigmoid: no ties, AUC kept
    feature_source: Literal["feast", "offline"] = "feast"  # offline: PIT join on the parquet
    interest_max_users: int = Field(20_000, gt=0)  # users sampled per training snapshot
    # users sampled (seeded) from the held-out snapshot for interest evaluation; None: all
    interest_eval_max_users: int | None = Field(100_000, gt=0)
    churn_tag_threshold: float = 0.15
    # push model: target products sampled per snapshot, training rows kept per snapshot
    # (every positive + sampled negatives), holdout (group, product) queries per group, and
    # holdout rows (queries x members; groups are sampled to stay within it)
    push_max_products: int = Field(3000, gt=0)
    push_max_rows: int = Field(200_000, gt=0)
    push_eval_products_per_group: int = Field(20, gt=0)
    push_eval_max_rows: int = Field(1_000_000, gt=0)
    # ... and more products per group, within push_eval_max_rows, until the queries hold
    # this many recent buyers (small groups: a holdout of a few dozen buyers is noise)
    push_eval_min_buyers: int = Field(500, ge=0)


class ServingSettings(_Section):
    api_key: SecretStr | None = None  # a secret: masked in dumps, logs and MLflow artifacts
    max_group_ids: int = 50
    max_user_ids: int = 5_000
    max_product_ids: int = 5_000
    max_top_k: int = 100
    max_members_per_product: int = 500
    max_feedback_events: int = 10_000
    # work one push-list request may ask for: groups x top_k x members_per_product (member
    # rows in the answer; 50 x 100 x 500 was 8.8 MB and ~0.9 s on the event loop)
    max_response_members: int = Field(50_000, gt=0)
    max_body_bytes: int = Field(1_000_000, gt=0)  # larger request bodies: 413 before parsing
    # load shedding per worker: requests in progress beyond it get 503 + Retry-After, and so
    # does one that waited longer than max_queue_seconds for its turn (the event loop is busy)
    # (burst of 200 connections on demo: 8 / 0.25 s halved the median wait of 32 / 0.5 s)
    max_concurrency: int = Field(8, gt=0)
    max_queue_seconds: float = Field(0.25, gt=0)
    retry_after_seconds: int = Field(1, ge=0)
    # a registry that does not answer at start-up is retried this long before the start fails
    registry_wait_seconds: float = Field(60.0, ge=0)
    # online evaluation of /feedback: an order counts for a push within these days (the push
    # day included); /metrics shows the last feedback_metrics_days days of pushes
    feedback_attribution_days: int = Field(7, gt=0)
    feedback_metrics_days: int = Field(7, gt=0)
    export_top_k: int = Field(10, gt=0)
    export_members_per_product: int = Field(20, gt=0)
    push_cap: int = 3
    push_cap_window_days: int = 7
    max_per_category: int = 3
    stale_after_days: int = 3
    reload_interval_seconds: float = 30.0
    interest_weight: float = 0.6
    repurchase_weight: float = 0.25
    affinity_weight: float = 0.15
    # answer POST /push_lists in a lean ASGI middleware (same contract) instead of BentoML's
    # endpoint layer (measured: 0.3-0.6 ms less CPU per request, of ~4 ms)
    fast_push_path: bool = True
    # push champion in the snapshot: warm entries kept per member; above this many products
    # only the slow movers (default candidates) get warm entries; substitutes with more
    # buyers than this do not make their buyers warm
    push_warm_per_member: int = Field(30, gt=0)
    # ... plus, for any product (targets or not), an entry for each of the member's this many
    # most recently bought products (product_ids chosen by campaign tooling stay warm)
    push_warm_recent_per_member: int = Field(30, ge=0)
    push_warm_products: int = Field(5_000, gt=0)
    push_neighbour_max_buyers: int = Field(20_000, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GROUPPUSH__", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    workspace: Path | None = None
    ingest: IngestSettings = IngestSettings()
    simulate: SimulateSettings = SimulateSettings()
    features: FeatureSettings = FeatureSettings()
    training: TrainingSettings = TrainingSettings()
    serving: ServingSettings = ServingSettings()


def secret_value(value: SecretStr | str | None) -> str | None:
    """The plain text of a secret setting, for the one call that needs it (a client or a
    header check); plain strings pass through (settings built with model_copy)."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class _DictSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def read_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML mapping; an empty file is an empty mapping."""
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def load_settings(
    preset: str | None = None,
    overrides: dict[str, Any] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Build settings: base.yaml < presets/<preset>.yaml < config_file < env < overrides."""
    data = read_yaml(CONFIG_DIR / "base.yaml")
    if preset:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        data = _deep_merge(data, read_yaml(CONFIG_DIR / "presets" / f"{preset}.yaml"))
    if config_file:
        data = _deep_merge(data, read_yaml(config_file))

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _DictSource(settings_cls, data))

    loaded = _Loaded(**(overrides or {}))
    return Settings.model_construct(**dict(loaded))
