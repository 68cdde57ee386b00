"""The streamed CSR build (serving.interest_csr, chunks read twice) equals the one-shot build
it replaced (concatenate, lexsort, gather) byte for byte, and the service's streamed load
(user_interest in blocks, scores through the on-disk cache) equals a one-block load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from serving.interest_csr import ROW_BLOCK, InterestCsr, LongChunk, build_csr

FIELDS = ("indptr", "indices", "model", "rel", "last_days", "counts_30d", "live", "due", "scoring")


def _one_shot(chunks: list[LongChunk], n: int, cycle: np.ndarray, hf: np.ndarray) -> InterestCsr:
    """The build before streaming: every pair concatenated, lexsorted and gathered."""
    row, col, scores, last, c30 = (np.concatenate([c[i] for c in chunks]) for i in range(5))
    prob = None if chunks[0][5] is None else np.concatenate([c[5] for c in chunks])  # type: ignore[misc]
    order = np.lexsort((col, row))
    row, col, scores, last, c30 = row[order], col[order], scores[order], last[order], c30[order]
    row_max = np.zeros(n, dtype=np.float32)
    np.maximum.at(row_max, row, scores)
    rel = (scores / np.maximum(row_max[row], 1e-12)).astype(np.float32)
    model = rel if prob is None else prob[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n), out=indptr[1:])
    last = np.where(last < 0, -1.0, last).astype(np.float32)
    cyc, high = cycle[col], hf[col]
    bought = last >= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        live = ~(bought & ~high & (last < cyc))
        due = np.where(bought & (cyc > 0), np.minimum(last / np.where(cyc > 0, cyc, 1), 1), 0)
    scoring = np.empty((len(col), 3), dtype=np.float32)
    scoring[:, 0], scoring[:, 1], scoring[:, 2] = model, rel, due
    return InterestCsr(
        indptr, col.astype(np.int32), *(scoring[:, i] for i in (0, 1)), last, c30, live,
        scoring[:, 2], scoring,
    )  # fmt: skip


def _pairs(rng: np.random.Generator, n: int, n_cats: int, size: int, prob: bool) -> LongChunk:
    """Unordered pairs with repeated (user, category) keys, ties in scores, zero rows,
    never-bought entries and users with no pairs."""
    row = rng.integers(0, n - 3, size)  # the last users have none
    col = rng.integers(0, n_cats, size).astype(np.int32)
    scores = rng.choice(np.array([0, 0.25, 0.5, 1, 3], dtype=np.float32), size)
    last = rng.choice(np.array([-1, 0, 3, 10, 45, 200], dtype=np.float32), size)
    c30 = rng.integers(0, 4, size).astype(np.float32)
    p = rng.random(size, dtype=np.float32) if prob else None
    return row, col, scores, last, c30, p


def _same(got: InterestCsr, want: InterestCsr) -> None:
    for name in FIELDS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), name


@pytest.mark.parametrize("prob", [True, False])
@pytest.mark.parametrize("n", [40, ROW_BLOCK + 5])  # one block of users, and two
def test_streamed_csr_equals_the_one_shot_build(prob: bool, n: int) -> None:
    rng = np.random.default_rng(7)
    n_cats = 9
    row, col, scores, last, c30, p = _pairs(rng, n, n_cats, 3000, prob)
    cycle = np.array([np.nan, 0, 7, 14, 30, 60, 90, 7, 3], dtype=np.float32)
    hf = np.arange(n_cats) % 3 == 0
    cuts = [0, 1, 17, 900, 901, 2500, 3000]  # a user's pairs spread over several chunks
    chunks = [
        (row[a:b], col[a:b], scores[a:b], last[a:b], c30[a:b], None if p is None else p[a:b])
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]
    want = _one_shot(chunks, n, cycle, hf)
    _same(build_csr(lambda: chunks, n, cycle, hf, with_prob=prob), want)
    _same(build_csr(lambda: [chunks[0], *chunks[1:]][::1], n, cycle, hf, with_prob=prob), want)
    one = [tuple(np.concatenate([c[i] for c in chunks]) if c[i] is not None else None
                 for i in range(6)) for c in chunks[:1]]  # fmt: skip
    _same(build_csr(lambda: one, n, cycle, hf, with_prob=prob), want)
    assert want.indptr[-1] == 3000 and want.indptr[-2] == want.indptr[-1]  # empty last users


def test_a_source_that_changes_between_passes_is_refused() -> None:
    rng = np.random.default_rng(1)
    chunk = _pairs(rng, 20, 4, 50, False)
    calls = iter([[chunk], [chunk, chunk]])
    with pytest.raises(ValueError, match="changed between passes"):
        build_csr(
            lambda: next(calls), 20, np.ones(4, np.float32), np.zeros(4, bool), with_prob=False
        )


def test_streamed_service_load_equals_a_one_block_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_snapshot with user_interest read 7 users at a time (scored into the on-disk cache
    part by part) equals the load reading every user in one block, with and without the
    interest champion, and a second load from the cache equals both."""
    import serving.interest_scoring as scoring
    from configs.settings import load_settings
    from serving.loader import load_snapshot
    from serving.score_cache import FOLDER
    from tests.serving.conftest import register_champion, write_workspace

    ws = write_workspace(tmp_path / "ws", n_users=90, n_cats=6)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = load_settings()

    def load(chunk: int) -> object:
        import shutil

        shutil.rmtree(ws.root / FOLDER, ignore_errors=True)
        with monkeypatch.context() as mp:
            mp.setattr(scoring, "USER_CHUNK", chunk)
            return load_snapshot(ws, settings)

    for champion in (False, True):
        if champion:
            register_champion(ws, "interest")
        one, streamed = load(10**6), load(7)
        assert streamed.model_versions == one.model_versions  # type: ignore[attr-defined]
        assert one.model_versions["interest"] == ("1" if champion else "heuristic")  # type: ignore[attr-defined]
        _same(streamed.interest, one.interest)  # type: ignore[attr-defined]
        if champion:
            assert len(list((ws.root / FOLDER).glob("interest-*/part-*.npz"))) > 3
            _same(load_snapshot(ws, settings).interest, one.interest)  # type: ignore[attr-defined]
        for name in ("user_rep", "user_fit", "push_counts", "members", "user_tag_set"):
            np.testing.assert_array_equal(getattr(streamed, name), getattr(one, name))
