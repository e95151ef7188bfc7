"""The `relapse` program as users run it: one-line errors (exit code 2, --debug for the traceback), owner-only
files, and options that reach what they promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.fixtures import MESSY_PROFILES, MESSY_SPEC

RELAPSE = Path(sys.executable).with_name("relapse")


def _run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RELAPSE_DATA_DIR": str(tmp_path / "data")}
    env.pop("RELAPSE_DEBUG", None)
    return subprocess.run([str(RELAPSE), *args], capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.mark.slow  # about 10 s on 2 cores: outside `make test-fast`
def test_a_bad_cell_in_bring_your_own_profiles_is_one_line_with_exit_code_2(tmp_path: Path) -> None:
    frame = pd.read_csv(MESSY_PROFILES, dtype=str, keep_default_na=False)
    frame.loc[5, "income_per_capita_yuan"] = "12k"
    table = tmp_path / "profiles.csv"
    frame.to_csv(table, index=False)
    args = ("train", "--profiles", str(table), "--spec", str(MESSY_SPEC), "--label", "relapsed")
    done = _run(*args, "--time", "survey_year", tmp_path=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "income_per_capita_yuan" in lines[0] and "12k" in lines[0], lines[0]

    debug = _run("--debug", *args, "--time", "survey_year", tmp_path=tmp_path)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_a_missing_source_folder_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    done = _run(
        "features",
        "build",
        "--data",
        str(tmp_path / "nowhere"),
        "--as-of",
        "2024-01-01",
        "--out",
        str(tmp_path / "p.parquet"),
        tmp_path=tmp_path,
    )
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and "nowhere" in done.stderr and "exist" in done.stderr, done.stderr


def test_what_the_commands_write_is_readable_by_their_user_only(tmp_path: Path) -> None:
    done = _run("keys", "create", "--role", "admin", "--region", "", "--label", "perm test", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    written = list((tmp_path / "data").rglob("*"))
    assert any(path.suffix == ".db" for path in written), written
    for path in written:
        assert path.stat().st_mode & 0o077 == 0, (path, oct(path.stat().st_mode))
    # Numba's compiled kernels are loaded at every start: their cache is the data folder's, owner-only, not
    # the package's folder.
    assert (tmp_path / "data" / "numba-cache").is_dir()


def test_numba_caches_its_kernels_in_the_owner_only_data_folder(tmp_path: Path) -> None:
    code = "import os, sys; print(os.environ.get('NUMBA_CACHE_DIR'))"
    env = {**os.environ, "RELAPSE_DATA_DIR": str(tmp_path / "data")}
    env.pop("NUMBA_CACHE_DIR", None)
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from relapse.cli import app; import sys; sys.argv=['relapse','--help']\n"
            f"try:\n    app()\nexcept SystemExit:\n    pass\n{code}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    folder = tmp_path / "data" / "numba-cache"
    assert shown.stdout.strip().splitlines()[-1] == str(folder.resolve()), shown.stdout + shown.stderr
    assert folder.stat().st_mode & 0o777 == 0o700


@pytest.mark.slow  # about 10 s on 2 cores: outside `make test-fast`
def test_train_seed_drives_the_split_of_bring_your_own_profiles(tmp_path: Path) -> None:
    """Without --time the split is random; `--seed` is the seed it is drawn with (the note says which)."""
    args = ("train", "--profiles", str(MESSY_PROFILES), "--spec", str(MESSY_SPEC), "--label", "relapsed")
    done = _run(*args, "--seed", "7", "--no-backtest", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    said = " ".join((done.stdout + done.stderr).split())
    assert "seed 7" in said, said

    # A model of one's own profiles is registered under a name of its own, never as the production model's
    # challenger: the service's `relapse-risk` does not even exist in this store.
    store = f"sqlite:///{tmp_path / 'data' / 'mlflow' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=store, registry_uri=store)  # not the registry an earlier test set globally
    names = {model.name for model in client.search_registered_models()}
    assert names == {f"byod-{MESSY_SPEC.stem}"}, names
    assert str(client.get_model_version_by_alias(f"byod-{MESSY_SPEC.stem}", "challenger").version) == "1"
    assert f"relapse promote --model-name byod-{MESSY_SPEC.stem}" in said


def test_train_names_an_unknown_label_in_one_line(tmp_path: Path) -> None:
    done = _run("train", "--data", str(tmp_path), "--label", "needs", tmp_path=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "unknown label 'needs'" in done.stderr and "need_12m" in done.stderr


@pytest.mark.parametrize("args", [("sign", "3"), ("evaluate", "--version", "3"), ("promote", "--version", "3")])
def test_a_version_the_registry_does_not_hold_is_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = _run(*args, tmp_path=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "not found" in lines[0], lines[0]
