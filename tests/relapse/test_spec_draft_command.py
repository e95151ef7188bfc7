"""`relapse spec draft TABLE > spec.yaml`, then the `relapse train` line the draft suggests, unedited."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.fixtures.survey import survey_table
from tests.relapse.test_cli import _run


@pytest.mark.slow
def test_a_drafted_spec_trains_without_edits(tmp_path: Path) -> None:
    table = tmp_path / "survey.csv"
    survey_table().to_csv(table, index=False)
    done = _run("spec", "draft", str(table), tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    spec = tmp_path / "spec.yaml"
    spec.write_text(done.stdout, encoding="utf-8")

    # The command the draft suggests, as the user would copy it (run from the table's folder).
    line = next(s for s in done.stdout.splitlines() if s.startswith("#   relapse train "))
    args = shlex.split(line.removeprefix("#   relapse "))
    args = [str(tmp_path / a) if a in ("survey.csv", "spec.yaml") else a for a in args]
    trained = _run(*args, tmp_path=tmp_path)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    store = f"sqlite:///{tmp_path / 'data' / 'mlflow' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=store, registry_uri=store)
    version = client.get_model_version_by_alias("byod-spec", "challenger")
    assert version.run_id is not None
    run = client.get_run(version.run_id)
    assert run.data.params["label"] == "relapsed" and run.data.params["n_features"] == "5"
    assert run.data.params["split_test"] == "2023-01-01"


def test_drafting_a_missing_table_is_one_line(tmp_path: Path) -> None:
    done = _run("spec", "draft", str(tmp_path / "nowhere.csv"), tmp_path=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "nowhere.csv" in done.stderr, done.stderr
