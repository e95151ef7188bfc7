"""Shared fixtures: a small valid source set and settings isolated from the developer's environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from features.reading.sources import Sources, write_sources
from features.settings import FeaturesSettings, get_settings
from tests.factories import make_sources


@pytest.fixture
def sources() -> Sources:
    return make_sources(seed=7)


@pytest.fixture
def source_dir(tmp_path: Path, sources: Sources) -> Path:
    folder = tmp_path / "sources"
    write_sources(sources, folder, "parquet")
    return folder


@pytest.fixture
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FeaturesSettings]:
    """Settings pointing at a fresh data folder, with no key in the environment or a `.env` file."""
    for name in ("RELAPSE_PSEUDONYM_KEY", "RELAPSE_PSEUDONYM_KEY_VERSION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RELAPSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
