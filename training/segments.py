"""Exportable segments: per-category interest segments, persona clusters, model-based tags.

Category segments use the feature table's decayed, similarity-spread interest (cheap enough
for 1M users); personas are MiniBatchKMeans clusters over the sparse interest vectors
(reduced with TruncatedSVD when there are many categories); tags come from the repurchase
champion's probabilities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans
from sklearn.decomposition import TruncatedSVD

from configs import columns as C
from configs.settings import TrainingSettings
from modelinput.pairs import explode_interest

SEGMENT_NAME = "segment_name"
SEGMENT_KIND = "segment_kind"
DESCRIPTION = "description"
COLUMNS = [C.SEGMENT_ID, SEGMENT_NAME, SEGMENT_KIND, C.USER_ID, C.SCORE, DESCRIPTION]
MAX_DENSE_CATEGORIES = 64
FIT_SAMPLE = 100_000


def explode_scores(interest: pd.DataFrame) -> pd.DataFrame:
    """(user_id, category_id, interest_score) rows of the user_interest snapshot."""
    long = explode_interest(interest, ("interest_scores",))
    return long[[C.USER_ID, C.CATEGORY_ID, "interest_score"]]


def category_segments(long: pd.DataFrame, cfg: TrainingSettings) -> pd.DataFrame:
    """Members whose interest share passes segment_min_score, or who are in the category's
    top segment_top_share of interested members. long: explode_scores() rows.

    Per category, the top share is found with a partial sort (np.partition) over a radix
    grouping of the rows, never a full sort: ~100M long rows on the large preset. Ties at the
    cut keep row order (rank method "first")."""
    all_scores = long["interest_score"].to_numpy(dtype=np.float64)
    rows = np.flatnonzero(all_scores > 0)
    all_codes, cats = _codes(long[C.CATEGORY_ID])
    codes, score = all_codes[rows], all_scores[rows]
    small = codes.astype(np.int16) if len(cats) < 2**15 else codes  # int16: radix sort
    order = np.argsort(small, kind="stable")  # grouped by category, row order within
    size = np.bincount(codes, minlength=len(cats))
    keep = score >= cfg.segment_min_score
    stop = np.cumsum(size)
    for c in np.flatnonzero(size):
        block = order[stop[c] - size[c] : stop[c]]
        k = int(np.ceil(cfg.segment_top_share * size[c]))
        if k <= 0:
            continue
        s = score[block]
        cut = -np.partition(-s, k - 1)[k - 1]  # the k-th largest score
        above = s > cut
        tied = s == cut
        take = above | (tied & (np.cumsum(tied) <= k - int(above.sum())))
        keep[block[take]] = True
    code = codes[keep]
    names = np.asarray(cats, dtype=object).astype(str)
    return pd.DataFrame(
        {
            C.SEGMENT_ID: (np.char.add("category:", names.astype(str)).astype(object))[code],
            SEGMENT_NAME: (np.char.add("interested in ", names.astype(str)).astype(object))[code],
            SEGMENT_KIND: "category",
            C.USER_ID: _take(long[C.USER_ID], rows[keep]),
            C.SCORE: score[keep],
            DESCRIPTION: "interest share >= threshold or in the category's top share",
        }
    )


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(integer codes, distinct values): free for a categorical column, factorized otherwise."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64), np.asarray(values.cat.categories)
    codes, uniques = pd.factorize(values.astype(str))
    return codes.astype(np.int64), np.asarray(uniques)


def _take(values: pd.Series, rows: np.ndarray) -> np.ndarray:
    """values[rows] as plain objects, without materialising a categorical column first."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return np.asarray(values.cat.categories, dtype=object)[values.cat.codes.to_numpy()[rows]]
    return values.to_numpy()[rows]


def explode_arrow(interest: pa.Table) -> pd.DataFrame:
    """explode_scores() straight from the Arrow snapshot (user_id, interest_categories,
    interest_scores): no per-user Python objects; category_id comes back categorical."""
    cats = interest.column("interest_categories").combine_chunks()
    scores = interest.column("interest_scores").combine_chunks()
    parent = pc.list_parent_indices(cats).to_numpy(zero_copy_only=False)
    ids = interest.column(C.USER_ID).to_numpy(zero_copy_only=False)
    flat = pc.dictionary_encode(pc.list_flatten(cats))
    if isinstance(flat, pa.ChunkedArray):
        flat = flat.combine_chunks()
    values = pc.list_flatten(scores).to_numpy(zero_copy_only=False)
    if len(values) != len(flat):
        raise ValueError("user_interest: interest_scores is not aligned with interest_categories")
    return pd.DataFrame(
        {
            # categorical: ~40M long rows share 1M id strings (users are unique in a snapshot)
            C.USER_ID: pd.Categorical.from_codes(parent, categories=pd.Index(ids).astype(str)),
            C.CATEGORY_ID: pd.Categorical.from_codes(
                flat.indices.to_numpy(zero_copy_only=False),
                flat.dictionary.to_numpy(zero_copy_only=False),
            ),
            "interest_score": values.astype(np.float64),
        }
    )


def interest_matrix(long: pd.DataFrame) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Sparse users x categories matrix of interest shares: (matrix, user ids, category ids)."""
    u_idx, users = pd.factorize(long[C.USER_ID])  # hash-based (codes when categorical)
    c_idx, cats = _codes(long[C.CATEGORY_ID])
    values = long["interest_score"].to_numpy(dtype=np.float32)
    matrix = sp.csr_matrix((values, (u_idx, c_idx)), shape=(len(users), len(cats)))
    return matrix, np.asarray(users), np.asarray(cats)


def personas(long: pd.DataFrame, cfg: TrainingSettings) -> pd.DataFrame:
    """Every interested member in one persona cluster, scored by closeness to its centre."""
    matrix, users, cats = interest_matrix(long)
    n_clusters = min(cfg.n_personas, len(users))
    if n_clusters < 1:
        return pd.DataFrame(columns=COLUMNS)
    rng = np.random.default_rng(cfg.seed)
    if len(cats) > MAX_DENSE_CATEGORIES:
        svd = TruncatedSVD(n_components=32, random_state=cfg.seed)
        sample = rng.choice(len(users), min(len(users), FIT_SAMPLE), replace=False)
        svd.fit(matrix[sample])
        dense = svd.transform(matrix).astype(np.float32)
    else:
        dense = matrix.toarray()
    km = MiniBatchKMeans(n_clusters=n_clusters, random_state=cfg.seed, n_init=3, batch_size=4096)
    sample = rng.choice(len(users), min(len(users), FIT_SAMPLE), replace=False)
    km.fit(dense[sample])
    labels = km.predict(dense)
    distance = np.linalg.norm(dense - km.cluster_centers_[labels], axis=1)
    descriptions = describe(matrix, labels, cats, n_clusters)
    ids = np.array([f"persona:{k}" for k in range(n_clusters)], dtype=object)
    names = np.array([descriptions[k][0] for k in range(n_clusters)], dtype=object)
    texts = np.array([descriptions[k][1] for k in range(n_clusters)], dtype=object)
    return pd.DataFrame(  # per-cluster strings indexed by label: no Python loop over 1M users
        {
            C.SEGMENT_ID: ids[labels],
            SEGMENT_NAME: names[labels],
            SEGMENT_KIND: "persona",
            C.USER_ID: users,
            C.SCORE: 1.0 / (1.0 + distance),
            DESCRIPTION: texts[labels],
        }
    )


def describe(
    matrix: sp.csr_matrix, labels: np.ndarray, cats: np.ndarray, n_clusters: int
) -> dict[int, tuple[str, str]]:
    """(name, description) per cluster from its members' mean interest per category."""
    out = {}
    onehot = sp.csr_matrix(
        (np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(n_clusters, len(labels))
    )
    sizes = np.asarray(onehot.sum(axis=1)).ravel()
    means = np.asarray((onehot @ matrix).todense()) / np.maximum(sizes, 1)[:, None]
    for k in range(n_clusters):
        top = np.argsort(-means[k])[:3]
        names = [str(cats[i]) for i in top if means[k, i] > 0]
        focus = means[k, top[0]] if len(top) else 0.0
        style = "focused" if focus >= 0.4 else "broad"
        out[k] = (
            f"persona {k}: {style} {'/'.join(names) or 'mixed'} buyers",
            f"{int(sizes[k])} members; top categories "
            + ", ".join(f"{cats[i]} ({means[k, i]:.0%})" for i in top if means[k, i] > 0),
        )
    return out


def model_tags(scores: pd.DataFrame, cfg: TrainingSettings) -> pd.DataFrame:
    """Tags operators act on, from the repurchase champion: likely repurchase / churn risk."""
    prob = scores[C.REPURCHASE_PROB].to_numpy()
    likely = prob >= cfg.repurchase_tag_threshold
    churn = prob < cfg.churn_tag_threshold
    parts = []
    for mask, seg_id, name, score, text in (
        (
            likely,
            "tag:likely_repurchase",
            "likely to repurchase (回购)",
            prob,
            f"repurchase probability >= {cfg.repurchase_tag_threshold}",
        ),
        (
            churn,
            "tag:churn_risk",
            "churn risk (流失预警)",
            1.0 - prob,
            f"repurchase probability < {cfg.churn_tag_threshold}",
        ),
    ):
        parts.append(
            pd.DataFrame(
                {
                    C.SEGMENT_ID: seg_id,
                    SEGMENT_NAME: name,
                    SEGMENT_KIND: "model_tag",
                    C.USER_ID: scores[C.USER_ID].to_numpy()[mask],
                    C.SCORE: score[mask],
                    DESCRIPTION: text,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def build_segments(
    interest: pd.DataFrame | pa.Table, scores: pd.DataFrame | None, cfg: TrainingSettings
) -> pd.DataFrame:
    """All segment memberships: one row per (segment, member). INTEREST: the user_interest
    snapshot, as pandas or (faster, for 1M users) Arrow."""
    long = explode_arrow(interest) if isinstance(interest, pa.Table) else explode_scores(interest)
    parts = [category_segments(long, cfg), personas(long, cfg)]
    if scores is not None:
        parts.append(model_tags(scores, cfg))
    return pd.concat(parts, ignore_index=True)[COLUMNS]


SUMMARY_FILE = "segments.json"  # under the workspace's reports: the operator page's data page


def segment_summary(segments: pd.DataFrame) -> list[dict[str, object]]:
    """One entry per segment: id, name, kind, members and description, largest first within
    each kind (personas first: their descriptions are what an operator reads)."""
    if not len(segments):
        return []
    by = segments.groupby(C.SEGMENT_ID, sort=False)
    table = by[[SEGMENT_NAME, SEGMENT_KIND, DESCRIPTION]].first()
    table["members"] = by.size()
    rank = table[SEGMENT_KIND].map({"persona": 0, "model_tag": 1}).fillna(2)
    table = table.assign(_rank=rank).sort_values(["_rank", "members"], ascending=[True, False])
    return [
        {
            "segment_id": str(sid),
            "name": str(r[SEGMENT_NAME]),
            "kind": str(r[SEGMENT_KIND]),
            "members": int(r["members"]),
            "description": str(r[DESCRIPTION]),
        }
        for sid, r in table.iterrows()
    ]
