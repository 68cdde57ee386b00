"""Business-scenario tags: load and check the YAML taxonomy, evaluate it over user_activity.

A tag's `rule` is a pandas `DataFrame.eval` boolean expression over user_activity columns.
Rules may also use `<numeric column>_pct`, the column's percentile rank (0..1] across the
users of the same snapshot (NaN stays NaN), so "top 10% spenders" needs no currency-specific
threshold: `spend_180d_pct >= 0.9`. The ranks are taken within one snapshot's population (the
users existing at t), so they are point-in-time and adapt to each shop. A tag with
`expand: <column>` and no rule is generated per value: `expand: region` yields `region:north`,
`region:south`, ... for whatever values occur (open-ended columns cannot be listed in YAML
ahead of time); a value that says "unknown" (UNKNOWN_VALUES) gives no tag. `audience: b2b`
gives the tag only to users with a B2B identity_type (a consumer with huge baskets is not a
reseller). Tag ids are joined with "," (so ids must not contain commas) into user_activity.tags.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml

from configs import columns as C
from configs.settings import CONFIG_DIR, FeatureSettings
from features.store.catalog import USER_ACTIVITY

PCT_SUFFIX = "_pct"
EXPAND_SEPARATOR = ":"
Refresh = Literal["daily", "weekly"]
_STR_COLUMNS = [f.name for f in USER_ACTIVITY.features if f.dtype == "str" and f.name != "tags"]
_NUM_COLUMNS = USER_ACTIVITY.numeric()
PROFILE_COLUMNS = tuple(_STR_COLUMNS)  # the string columns rules compare and expand reads
KNOWN_COLUMNS = frozenset([*_STR_COLUMNS, *_NUM_COLUMNS, *(c + PCT_SUFFIX for c in _NUM_COLUMNS)])
_REQUIRED_KEYS = ("id", "class", "name_zh", "name_en", "scenario", "refresh")
Audience = Literal["all", "b2b"]
# Spellings of "we do not know" in profile columns: a value, but not one to tag anybody with.
UNKNOWN_VALUES = frozenset(
    ["unknown", "unk", "none", "null", "nan", "n/a", "na", "-", "?", "未知", "其他未知"]
)


@dataclass(frozen=True)
class TagDef:
    id: str
    tag_class: str
    name_zh: str
    name_en: str
    scenario: str
    refresh: Refresh
    rule: str | None = None
    expand: str | None = None  # generate one tag per value of this string column
    audience: Audience = "all"  # b2b: only users whose identity_type is a B2B one

    def names_used(self) -> set[str]:
        used = _names(self.rule) if self.rule else {self.expand or ""}
        return used | ({C.IDENTITY_TYPE} if self.audience == "b2b" else set())


def taxonomy_path(cfg: FeatureSettings) -> Path:
    """The taxonomy file of the settings: absolute, or relative to configs/."""
    path = Path(cfg.tags_file)
    return path if path.is_absolute() else CONFIG_DIR / path


def _names(rule: str) -> set[str]:
    tree = ast.parse(rule.strip(), mode="eval")
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} - {"True", "False"}


def _sample_frame() -> pd.DataFrame:
    """Two typed rows so a rule can be test-evaluated at load time."""
    data: dict[str, object] = {c: ["a", None] for c in _STR_COLUMNS}
    data.update({c: [1.0, np.nan] for c in _NUM_COLUMNS})
    data.update({c + PCT_SUFFIX: [0.5, np.nan] for c in _NUM_COLUMNS})
    return pd.DataFrame(data)


def validate_tag(tag: TagDef) -> None:
    """Raise ValueError naming the tag when its rule cannot be evaluated to a boolean."""
    if tag.rule is None and tag.expand is None:
        raise ValueError(f"tag {tag.id!r}: needs a 'rule' (or 'expand: <column>')")
    if "," in tag.id or not tag.id:
        raise ValueError(f"tag {tag.id!r}: ids must be non-empty and contain no comma")
    if tag.expand is not None:
        if tag.expand not in _STR_COLUMNS:
            raise ValueError(
                f"tag {tag.id!r}: expand column {tag.expand!r} is not one of "
                f"{', '.join(_STR_COLUMNS)}"
            )
        return
    assert tag.rule is not None
    try:
        used = _names(tag.rule)
    except SyntaxError as exc:
        raise ValueError(f"tag {tag.id!r}: syntax error in rule {tag.rule!r}: {exc.msg}") from exc
    unknown = sorted(used - KNOWN_COLUMNS)
    if unknown:
        raise ValueError(
            f"tag {tag.id!r}: rule {tag.rule!r} uses unknown column(s) {', '.join(unknown)}"
        )
    try:
        result = _sample_frame().eval(tag.rule, engine="python")
    except Exception as exc:  # pandas raises many types for bad expressions
        raise ValueError(f"tag {tag.id!r}: rule {tag.rule!r} does not evaluate: {exc}") from exc
    if not isinstance(result, pd.Series) or result.dtype != bool:
        raise ValueError(f"tag {tag.id!r}: rule {tag.rule!r} is not a boolean expression")


def _parse(entry: object, where: str) -> TagDef:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: each tag must be a mapping")
    tag_id = str(entry.get("id", ""))
    missing = [k for k in _REQUIRED_KEYS if not entry.get(k)]
    if missing:
        raise ValueError(f"{where}: tag {tag_id!r} misses {', '.join(missing)}")
    extra = set(entry) - {*_REQUIRED_KEYS, "rule", "expand", "audience"}
    if extra:
        raise ValueError(f"{where}: tag {tag_id!r} has unknown key(s) {', '.join(sorted(extra))}")
    if entry["refresh"] not in ("daily", "weekly"):
        raise ValueError(f"{where}: tag {tag_id!r}: refresh must be daily or weekly")
    audience = entry.get("audience", "all")
    if audience not in ("all", "b2b"):
        raise ValueError(f"{where}: tag {tag_id!r}: audience must be all or b2b")
    return TagDef(
        tag_id,
        str(entry["class"]),
        str(entry["name_zh"]),
        str(entry["name_en"]),
        str(entry["scenario"]),
        entry["refresh"],
        str(entry["rule"]) if entry.get("rule") is not None else None,
        str(entry["expand"]) if entry.get("expand") is not None else None,
        audience,
    )


def load_taxonomy(path: Path) -> list[TagDef]:
    """Read and validate the taxonomy: every error names the file and the tag id."""
    with Path(path).open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    entries = data.get("tags") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a top-level 'tags:' list")
    tags = [_parse(e, str(path)) for e in entries]
    seen: set[str] = set()
    for tag in tags:
        if tag.id in seen:
            raise ValueError(f"{path}: duplicate tag id {tag.id!r}")
        seen.add(tag.id)
        try:
            validate_tag(tag)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc
    return tags


def _columns(df: pd.DataFrame, tags: list[TagDef]) -> dict[str, pd.Series]:
    """DF's columns by name plus the `_pct` ranks the rules use: what DataFrame.eval resolves
    names against, without copying DF into a new frame with the ranks (~0.3 s per 1M rows)."""
    used = set().union(*(t.names_used() for t in tags)) if tags else set()
    columns = {str(name): df[name] for name in df.columns}
    for name in sorted(n for n in used if n.endswith(PCT_SUFFIX) and n not in columns):
        columns[name] = df[name[: -len(PCT_SUFFIX)]].rank(pct=True, method="max")
    return columns


def _tag_codes(columns: dict[str, pd.Series], tag: TagDef) -> tuple[np.ndarray, list[str]]:
    """Per row an index into LABELS (the ids this tag can give), -1 when the row lacks it."""
    if tag.expand is not None:
        values = columns[tag.expand]
        codes, uniques = pd.factorize(values.astype(str).where(values.notna()))  # NaN -> -1
        known = np.array([not is_unknown(v) for v in uniques], dtype=bool)
        if not known.all():  # the few uniques are checked, not the rows
            renumber = np.where(known, np.cumsum(known) - 1, -1)
            codes = np.append(renumber, -1)[codes]  # code -1 (no value) picks the -1 appended
        return codes, [tag.id + EXPAND_SEPARATOR + str(v) for v in uniques[known]]
    assert tag.rule is not None
    try:  # DataFrame.eval(rule, engine="python") over COLUMNS
        mask = np.asarray(
            pd.eval(tag.rule.strip(), engine="python", resolvers=(columns,)), dtype=bool
        )
    except Exception as exc:
        raise ValueError(f"tag {tag.id!r}: rule {tag.rule!r} failed: {exc}") from exc
    if tag.audience == "b2b":
        mask = mask & columns[C.IDENTITY_TYPE].isin(C.B2B_IDENTITY_TYPES).to_numpy()
    return np.where(mask, 0, -1), [tag.id]


def is_unknown(value: object) -> bool:
    """Whether a profile value means "not known" (empty, or an UNKNOWN_VALUES spelling)."""
    text = str(value).strip()
    return not text or text.lower() in UNKNOWN_VALUES


def _combinations(per_tag: list[tuple[np.ndarray, list[str]]], n_rows: int) -> np.ndarray:
    """Per row a number of its tag combination (< n_rows). The tags' codes are packed as
    digits of one int64 while it has room, then factorized (which keeps it < n_rows): a
    factorize per tag cost ~0.2 s per 1M rows."""
    combo = np.zeros(n_rows, dtype=np.int64)
    room = 2**62
    for codes, labels in per_tag:
        radix = len(labels) + 1
        if radix > room:
            combo, _ = pd.factorize(combo)
            room = 2**62 // max(len(combo) and int(combo.max()) + 1, 1)
        combo = combo * radix + (codes + 1)
        room //= radix
    combo, _ = pd.factorize(combo)
    return combo


def evaluate_tags(df: pd.DataFrame, tags: list[TagDef]) -> pd.Series:
    """Comma-joined ids of the tags each row has ('' for none), in taxonomy order.

    Rows share few distinct tag combinations, so each row gets a combination number and
    each combination's string is built once: joining strings row by row cost ~10 s per
    million users.
    """
    columns = _columns(df, tags)
    per_tag = [_tag_codes(columns, tag) for tag in tags]
    combo = _combinations(per_tag, len(df))
    n_combos = int(combo.max()) + 1 if len(df) else 0
    row_of = np.zeros(n_combos, dtype=np.int64)
    row_of[combo] = np.arange(len(df))  # a row of each combination (all give the same text)
    text = np.array(
        [",".join(labels[c[row]] for c, labels in per_tag if c[row] >= 0) for row in row_of],
        dtype=object,
    )
    return pd.Series(text[combo] if len(df) else np.array([], dtype=object), index=df.index)


def tag_names(tags: list[TagDef], values: pd.DataFrame | None = None) -> dict[str, str]:
    """Tag id -> English name. Expanding tags map 'region:' (the prefix) to 'Region: {value}';
    with VALUES (a user_activity frame) every occurring 'region:<v>' is listed too."""
    names = {t.id: t.name_en for t in tags if t.expand is None}
    for tag in tags:
        if tag.expand is None:
            continue
        prefix = tag.id + EXPAND_SEPARATOR
        names[prefix] = tag.name_en
        if values is not None and tag.expand in values:
            for v in values[tag.expand].dropna().astype(str).unique():
                names[prefix + v] = tag.name_en.replace("{value}", v)
    return names


def tag_label(tag_id: str, names: dict[str, str]) -> str:
    """Human-readable name of one id, including generated 'region:<v>' ids."""
    if tag_id in names:
        return names[tag_id]
    prefix, sep, value = tag_id.partition(EXPAND_SEPARATOR)
    template = names.get(prefix + sep) if sep else None
    return template.replace("{value}", value) if template else tag_id
