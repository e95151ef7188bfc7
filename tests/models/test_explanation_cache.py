"""Explanation cache: a re-run explains only changed profiles; keys are (model version, profile hash)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.explanation_cache import (
    ExplanationCache,
    ExplanationCacheError,
    explain_with_cache,
    profile_hashes,
)


class CountingExplainer:
    """A stand-in explainer (value = 2·x, NaN → −1) that records how many rows it was asked to explain."""

    def __init__(self) -> None:
        self.rows = 0

    def shap_values(self, x: np.ndarray) -> np.ndarray:
        self.rows += len(x)
        return np.where(np.isnan(x), -1.0, 2.0 * x)


def make_profiles(seed: int, n: int = 50, width: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, width))
    x[:, 0] = rng.integers(0, 4, n)  # a category code
    x[rng.random(x.shape) < 0.2] = np.nan
    return x


def test_second_run_explains_nothing_and_returns_the_same_values(tmp_path: Path) -> None:
    x = make_profiles(0)
    explainer = CountingExplainer()
    first = explain_with_cache(ExplanationCache(tmp_path), explainer, "7", x)
    assert explainer.rows == len(x)
    np.testing.assert_array_equal(first.values, explainer.shap_values(x))
    explainer.rows = 0
    again = explain_with_cache(ExplanationCache(tmp_path), explainer, "7", x)  # a new process: read from disk
    assert explainer.rows == 0
    assert len(again.computed) == 0
    assert again.values.tobytes() == first.values.tobytes()


def test_changing_one_profile_recomputes_exactly_that_row(tmp_path: Path) -> None:
    x = make_profiles(1)
    cache, explainer = ExplanationCache(tmp_path), CountingExplainer()
    explain_with_cache(cache, explainer, "7", x)
    x[17, 3] = 123.0
    explainer.rows = 0
    result = explain_with_cache(cache, explainer, "7", x)
    assert explainer.rows == 1
    assert result.computed.tolist() == [17]
    np.testing.assert_array_equal(result.values, CountingExplainer().shap_values(x))


def test_another_model_version_misses(tmp_path: Path) -> None:
    x = make_profiles(2)
    cache, explainer = ExplanationCache(tmp_path), CountingExplainer()
    explain_with_cache(cache, explainer, "7", x)
    explainer.rows = 0
    result = explain_with_cache(cache, explainer, "relapse-risk/8", x)
    assert explainer.rows == len(x)
    assert result.computed.tolist() == list(range(len(x)))


def test_identical_profiles_in_one_batch_are_explained_once(tmp_path: Path) -> None:
    x = np.repeat(make_profiles(3, n=5), 4, axis=0)
    explainer = CountingExplainer()
    result = explain_with_cache(ExplanationCache(tmp_path), explainer, "7", x)
    assert explainer.rows == 5
    np.testing.assert_array_equal(result.values, CountingExplainer().shap_values(x))


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ([1.0, np.nan], [1.0, float.fromhex("0x1.8p+1") * np.nan], True),  # NaN payloads do not matter
        ([0.0, 2.0], [-0.0, 2.0], True),  # nor the sign of zero
        ([1.0, 2.0], [1.0, 2.0000000000000004], False),  # one ulp does
        ([1.0, np.nan], [1.0, 0.0], False),  # missing is not zero
    ],
)
def test_profile_hash_canonicalises_nan_and_zero_only(a: list[float], b: list[float], same: bool) -> None:
    other_nan = np.array(b)
    if np.isnan(other_nan).any():  # a NaN with a different bit pattern
        other_nan[np.isnan(other_nan)] = np.frombuffer(np.uint64(0x7FF8000000000123).tobytes(), dtype=np.float64)[0]
    assert (profile_hashes(np.array([a]))[0] == profile_hashes(other_nan[None, :])[0]) is same


def test_get_many_reports_hits_and_misses_per_key(tmp_path: Path) -> None:
    cache = ExplanationCache(tmp_path)
    values, found = cache.get_many([("1", b"x" * 16)])
    assert values.shape == (1, 0) and not found.any()
    hashes = profile_hashes(make_profiles(4, n=3))
    cache.put_many([("1", hashes[0]), ("2", hashes[1])], np.array([[1.0, 2.0], [3.0, 4.0]]))
    values, found = ExplanationCache(tmp_path).get_many([("2", hashes[1]), ("1", hashes[2]), ("1", hashes[0])])
    assert found.tolist() == [True, False, True]
    np.testing.assert_array_equal(values[[0, 2]], [[3.0, 4.0], [1.0, 2.0]])


def test_shards_are_plain_arrays_and_foreign_files_are_refused(tmp_path: Path) -> None:
    cache = ExplanationCache(tmp_path)
    cache.put_many([("v1", b"a" * 16)], np.ones((1, 3)))
    shard = next((tmp_path / "v1").glob("shard-*.npz"))
    with np.load(shard, allow_pickle=False) as data:
        assert data["values"].dtype == np.float64
    np.savez(tmp_path / "v1" / "shard-999999-0.npz", something=np.zeros(2))
    with pytest.raises(ExplanationCacheError, match="not an explanation cache shard"):
        ExplanationCache(tmp_path).get_many([("v1", b"a" * 16)])
