"""`relapse features build` and `relapse features docs` end to end on the hand-built city."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from features.profiles.build import build_profiles
from features.profiles.docs import render_features
from features.reading.sources import read_sources, write_sources
from relapse.cli import app
from tests.tiny_city import AS_OF, tiny_sources

runner = CliRunner()


def test_build_writes_the_profiles_of_every_household(tmp_path: Path) -> None:
    write_sources(tiny_sources(), tmp_path / "src", "parquet")
    out = tmp_path / "out" / "profiles.parquet"
    result = runner.invoke(app, ["features", "build", "--data", str(tmp_path / "src"), "--as-of", "2024-01-01",
                                 "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3 profiles as of 2024-01-01" in result.output
    assert "SYNTHETIC" in result.output
    written = pd.read_parquet(out)
    expected = build_profiles(read_sources(tmp_path / "src"), AS_OF)
    pd.testing.assert_frame_equal(written, expected, check_dtype=False, check_categorical=False)


def test_build_refuses_an_unknown_output_format(tmp_path: Path) -> None:
    result = runner.invoke(app, ["features", "build", "--data", str(tmp_path), "--as-of", "2024-01-01",
                                 "--out", str(tmp_path / "p.xlsx")])  # fmt: skip
    assert result.exit_code != 0


def test_docs_are_written(tmp_path: Path) -> None:
    result = runner.invoke(app, ["features", "docs", "--folder", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "features.md").read_text(encoding="utf-8") == render_features()
    assert (tmp_path / "profiles.md").is_file()
