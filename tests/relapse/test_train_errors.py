"""Every mistake a user can make with `relapse train --profiles` is one line on stderr naming what and where,
with exit code 2 — never a traceback (`--debug` shows it)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from relapse.cli import app
from tests.fixtures import MESSY_PROFILES, MESSY_SPEC

Relapse = Callable[..., tuple[int, str]]


@pytest.fixture
def relapse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Relapse]:
    """Run the app in this process as `relapse ARGS…`; returns (exit code, stderr)."""
    monkeypatch.setenv("RELAPSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    monkeypatch.setenv("RELAPSE_DEBUG", "0")  # `--debug` sets it to 1; set here so that it is restored after
    umask = os.umask(0o022)
    os.umask(umask)

    def run(*args: str) -> tuple[int, str]:
        with pytest.raises(SystemExit) as done:
            app(list(args), prog_name="relapse")
        return int(done.value.code or 0), capsys.readouterr().err

    yield run
    os.umask(umask)  # the app makes its files owner-only for the rest of the process


def messy(tmp_path: Path, **changes: tuple[int, str, str]) -> Path:
    frame = pd.read_csv(MESSY_PROFILES, dtype=str, keep_default_na=False)
    for row, column, value in changes.values():
        frame.loc[row, column] = value
    path = tmp_path / "profiles.csv"
    frame.to_csv(path, index=False)
    return path


def spec_with(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(MESSY_SPEC.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    return path


def train(table: Path | str, spec: Path | str, *extra: str, label: str = "relapsed") -> tuple[str, ...]:
    return ("train", "--profiles", str(table), "--spec", str(spec), "--label", label, *extra)


CASES = {
    # missing columns: an option's, a feature's
    "label column absent": (lambda t: train(MESSY_PROFILES, MESSY_SPEC, label="outcome"), ["--label", "'outcome'"]),
    "group column absent": (
        lambda t: train(MESSY_PROFILES, MESSY_SPEC, "--group", "township"),
        ["--group", "'township'"],
    ),
    "feature column absent": (
        lambda t: train(MESSY_PROFILES, spec_with(t, "name: hh_size", "name: household_size")),
        ["lacks columns", "household_size"],
    ),
    # the spec: unknown key, wrong type, not YAML, not there
    "spec key misspelt": (
        lambda t: train(MESSY_PROFILES, spec_with(t, "    type: count", "    typ: count")),
        ["features[1] (hh_size)", "unknown key 'typ'"],
    ),
    "spec type unknown": (
        lambda t: train(MESSY_PROFILES, spec_with(t, "type: count", "type: integer")),
        ["features[1].type (hh_size)", "'integer'"],
    ),
    "spec not YAML": (lambda t: train(MESSY_PROFILES, spec_with(t, "version: 1", "version: [1")), ["not valid YAML"]),
    "spec file absent": (lambda t: train(MESSY_PROFILES, t / "none.yaml"), ["none.yaml", "cannot read the spec"]),
    # the table: not there, not a table, wrong format
    "table absent": (lambda t: train(t / "none.csv", MESSY_SPEC), ["none.csv", "no such file"]),
    "table unreadable": (
        lambda t: train(_write(t / "broken.csv", 'a,b\n"1,2\n'), MESSY_SPEC),
        ["broken.csv", "cannot be read as csv"],
    ),
    "table not parquet": (
        lambda t: train(_write(t / "broken.parquet", "PAR1 no"), MESSY_SPEC),
        ["broken.parquet", "cannot be read as parquet"],
    ),
    "table of another format": (lambda t: train(_write(t / "p.xlsx", "x"), MESSY_SPEC), ["p.xlsx", ".csv or .parquet"]),
    # the label: not binary, one value only in a period
    "label not binary": (
        lambda t: train(messy(t, a=(9, "relapsed", "2")), MESSY_SPEC, "--time", "survey_year"),
        ["relapsed, row 9", "'2'", "0/1 label"],
    ),
    "label with one value in the test period": (
        lambda t: train(_one_valued_test(t), MESSY_SPEC, "--time", "survey_year"),
        ["test period", "all with label 0"],
    ),
    # a cell, a time value, options that do not fit the data
    "unmapped word in a number column": (
        lambda t: train(messy(t, a=(4, "medical_cost_yuan", "some")), MESSY_SPEC, "--time", "survey_year"),
        ["medical_cost_yuan, row 4 (line 6 of profiles.csv)", "'some'", "values:"],
    ),
    "time value unreadable": (
        lambda t: train(messy(t, a=(3, "survey_year", "soon")), MESSY_SPEC, "--time", "survey_year"),
        ["survey_year, row 3", "'soon'"],
    ),
    "horizon without time": (
        lambda t: train(MESSY_PROFILES, MESSY_SPEC, "--horizon", "12"),
        ["--horizon needs --time"],
    ),
    "more folds than dates": (
        lambda t: train(MESSY_PROFILES, MESSY_SPEC, "--time", "survey_year", "--cv", "5"),
        ["--cv 5", "time-ordered fold"],
    ),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _one_valued_test(tmp_path: Path) -> Path:
    frame = pd.read_csv(MESSY_PROFILES, dtype=str, keep_default_na=False)
    frame.loc[frame["survey_year"].str.strip().str[:4] == "2023", "relapsed"] = "0"
    frame.to_csv(tmp_path / "profiles.csv", index=False)
    return tmp_path / "profiles.csv"


@pytest.mark.parametrize("case", list(CASES))
def test_a_user_error_is_one_line_with_exit_code_2(case: str, relapse: Relapse, tmp_path: Path) -> None:
    make, words = CASES[case]
    code, err = relapse(*make(tmp_path))
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("relapse: ") and lines[0].endswith("(--debug shows the traceback)"), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_debug_shows_the_traceback(relapse: Relapse, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no such file"):
        app(["--debug", *train(tmp_path / "none.csv", MESSY_SPEC)], prog_name="relapse")
