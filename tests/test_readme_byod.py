"""The README's "Bring your own data" commands, read from README.md and run as written on a generated survey.

The commands are parsed from the section's code block, so a README edit that breaks them breaks this test.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.fixtures.survey import survey_table

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def readme_commands(section: str = "Bring your own data") -> list[list[str]]:
    """The shell lines of the section's first ```bash block, split as a shell would (comments dropped)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", body, re.DOTALL)
    assert block is not None, f"no bash block in README section {section!r}"
    return [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line.strip()]


def test_the_section_holds_the_commands_this_test_runs() -> None:
    commands = readme_commands()
    assert [c[:3] for c in commands] == [
        [".venv/bin/relapse", "spec", "draft"],
        [".venv/bin/relapse", "train", "--profiles"],
    ]


@pytest.mark.slow
def test_the_readme_bring_your_own_data_commands_run_as_written(tmp_path: Path) -> None:
    survey = survey_table(households=300, years=(2019, 2020, 2021, 2022, 2023))
    survey.rename(columns={"relapsed": "identified"}).to_csv(tmp_path / "my.csv", index=False)
    env = {**os.environ, "RELAPSE_DATA_DIR": str(tmp_path / "data")}
    env.pop("RELAPSE_DEBUG", None)
    outputs = []
    for command in readme_commands():
        program, *args = command
        assert program == ".venv/bin/relapse", program
        out = None
        if ">" in args:  # `… > my.yaml`: the shell's redirection
            out = tmp_path / args[args.index(">") + 1]
            args = args[: args.index(">")]
        done = subprocess.run(
            [str(VENV_BIN / "relapse"), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
        if out is not None:
            out.write_text(done.stdout, encoding="utf-8")
        outputs.append(done.stdout + done.stderr)  # the progress console writes to stderr

    assert "# guessed" in (tmp_path / "my.yaml").read_text(encoding="utf-8")
    store = f"sqlite:///{tmp_path / 'data' / 'mlflow' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=store, registry_uri=store)
    version = client.get_model_version_by_alias("byod-my", "challenger")
    assert version.run_id is not None
    run = client.get_run(version.run_id)
    assert run.data.params["label"] == "identified" and run.data.params["cv_folds"] == "3"
    # --horizon 12 on yearly dates: validation a year before the test date, training a year before that.
    assert (run.data.params["split_valid"], run.data.params["split_test"]) == ("2022-01-01", "2023-01-01")
    assert run.data.params["split_train"].split(",")[-1] == "2021-01-01"
    assert {"cv_pr_auc_mean", "cv_pr_auc_sd", "cv_roc_auc_mean"} <= set(run.data.metrics)
    assert "cross-validation, 3 folds, mean ± sd: PR-AUC" in " ".join(outputs[-1].split())
