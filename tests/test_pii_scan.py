"""The scan `make test` runs over the suite's files finds ID numbers wherever the system could write them, and
leaves the raw source tables (inputs that carry ID numbers on purpose) and look-alike numbers alone."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from features.contract.id_numbers import id_check_character

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "pii_scan.py"
ID17 = "32010219850712003"
ID = ID17 + id_check_character(ID17)


def _scan(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(folder)], capture_output=True, text=True, check=False)


def test_id_numbers_written_anywhere_are_found_and_never_printed() -> None:
    # Outside the suite's temporary folder, which `make test` scans afterwards: these files are meant to fail.
    with tempfile.TemporaryDirectory() as folder:
        _found_everywhere(Path(folder))


def _found_everywhere(tmp_path: Path) -> None:
    (tmp_path / "log.txt").write_text(f"scored household with member {ID} at 10:00\n")
    (tmp_path / "answer.json").write_text(json.dumps({"note": f"身份证{ID}"}, ensure_ascii=False))
    with sqlite3.connect(tmp_path / "service.db") as db:
        db.execute("create table t (note text)")
        db.execute("insert into t values (?)", (f"x{ID.lower()}",))
    pd.DataFrame({"household_pseudonym": ["h1"], "note": [ID]}).to_parquet(tmp_path / "results.parquet")
    done = _scan(tmp_path)
    assert done.returncode == 1
    named = {line.rsplit(" in ", 1)[1] for line in done.stderr.splitlines()}
    assert named == {str(tmp_path / name) for name in ("log.txt", "answer.json", "service.db", "results.parquet")}
    assert ID not in done.stdout + done.stderr


def test_raw_source_tables_and_look_alike_numbers_pass(tmp_path: Path) -> None:
    raw = pd.DataFrame({"member_id": ["m1"], "id_number": [ID]})
    raw.to_parquet(tmp_path / "members.parquet")
    raw.to_csv(tmp_path / "members.csv", index=False)
    raw.to_feather(tmp_path / "members.arrow")  # a batch run's spilled copy of a raw table
    (tmp_path / "scores.json").write_text(
        json.dumps({"p": float("0." + ID17 + "1"), "id": "9" + ID, "wrong": ID17 + ("0" if ID[-1] != "0" else "1")})
    )
    done = _scan(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "4 files" in done.stdout and "0 with ID numbers" in done.stdout
