"""`relapse backup` and `relapse restore` as an operator runs them: score households through the app, record a
visit, back up, wipe the database, the registry and the keys, restore onto fresh locations and start the app
again — the same score history, audit entries and visits, the same pseudonyms, and bitwise the same scores
from the same model version numbers. A wrong passphrase, a corrupted file, an unsigned model and a database in
the way are refused in one line, before anything is written."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from sqlalchemy import make_url, select, text

from features.pseudonyms.keys import PseudonymKey, load_key, pseudonym
from features.secret_files import create_secret_file
from features.settings import FeaturesSettings
from models.risk_model import RiskModel
from models.signing import signing_key
from service.app import create_app
from service.db import create_db_engine, open_database
from service.keys import create_key
from service.migrate import upgrade_database
from service.model_holder import ModelHolder, RegistrySource
from service.settings import ServiceSettings
from service.tables import AuditEntry, Role, ScoreRecord, Visit
from tests.service.api_support import AS_OF, Registered, document
from tests.service.conftest import postgres_base_url
from training.registry import CHALLENGER, CHAMPION
from training.settings import TrainingSettings
from training.tracking import configure, log_risk_model

RELAPSE = Path(sys.executable).with_name("relapse")
PASSPHRASE = "correct horse battery staple"
NAME = "relapse-risk"
VISIT = {"visited_on": "2025-07-10", "visitor_role": "grid_worker", "visitor_grid": "G-07", "outcome": "not_at_risk"}


@dataclass(frozen=True)
class Machine:
    """One installation: its data folder (keys, registry) and its service database."""

    data_dir: Path
    database_url: str

    @property
    def tracking_uri(self) -> str:
        return TrainingSettings(data_dir=self.data_dir).tracking_uri

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAPSE_") or k == "RELAPSE_TEST_POSTGRES_URL"}
        return env | {"RELAPSE_DATA_DIR": str(self.data_dir), "RELAPSE_DATABASE_URL": self.database_url}

    def relapse(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)  # the working folder: no stray .env is read
        return subprocess.run(
            [str(RELAPSE), *args],
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=self.data_dir.parent,
            timeout=600,
            check=False,
        )


@pytest.fixture(scope="module")
def session_model(registered: Registered) -> RiskModel:
    """The session's trained model, read from its registry."""
    source = RegistrySource(registered.tracking_uri)
    with tempfile.TemporaryDirectory() as tmp:
        folder, _ = source.download(source.resolve(), Path(tmp))
        return RiskModel.load(folder)


def _install(data_dir: Path, database_url: str, model: RiskModel, example: pd.DataFrame) -> Machine:
    """A machine with its own keys and a registry of three versions of `model`, signed with its own key:
    1 retired, 2 champion, 3 challenger (so that restoring has a gap to keep)."""
    machine = Machine(data_dir, database_url)
    create_secret_file(data_dir / "secrets" / "pseudonym.key")
    settings = TrainingSettings(data_dir=data_dir)
    signing = signing_key(data_dir, create=True)
    experiment = configure(settings)
    for number in (1, 2, 3):
        with mlflow.start_run(experiment_id=experiment, run_name=f"run {number}"):
            mlflow.log_metric("test_pr_auc", 0.5 + number / 100)
            mlflow.log_text(f"# Model card {number}\n", "model_card.md")
            log_risk_model(model, example, NAME, signing)
    client = MlflowClient(tracking_uri=machine.tracking_uri, registry_uri=machine.tracking_uri)
    client.set_registered_model_alias(NAME, CHAMPION, "2")
    client.set_registered_model_alias(NAME, CHALLENGER, "3")
    upgrade_database(database_url)
    return machine


def _keys(machine: Machine) -> tuple[PseudonymKey, Any]:
    features = FeaturesSettings(data_dir=machine.data_dir, pseudonym_key_version="t1")
    return load_key(features), signing_key(machine.data_dir)


@dataclass
class Served:
    responses: list[dict[str, Any]]
    rows: dict[str, list[tuple[Any, ...]]]
    version: str


def _rows(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                name: [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key))]
                for name, table in (
                    ("score_records", ScoreRecord.__table__),
                    ("audit_entries", AuditEntry.__table__),
                    ("visits", Visit.__table__),
                )
            }
    finally:
        engine.dispose()


def _serve(machine: Machine, registered: Registered, households: list[str], *, record: bool) -> Served:
    """Start the app on `machine` (model from its registry, keys from its files) and score `households`; with
    `record`, through a new key, also record a visit. Returns the responses and the stored rows."""
    pseudonym_key, signing = _keys(machine)
    settings = ServiceSettings(data_dir=machine.data_dir, database_url=machine.database_url)
    holder = ModelHolder(RegistrySource(machine.tracking_uri), machine.data_dir / "model-cache", signing)
    holder.start()
    assert holder.current is not None, holder.degraded
    database = open_database(machine.database_url, settings)
    try:
        with database.session() as session:
            plaintext = create_key(session, role=Role.MONITOR, region_prefix="990101", label="backup test").plaintext
        headers = {"Authorization": f"Bearer {plaintext}"}
        app = create_app(settings, holder=holder, database=database, pseudonym_key=pseudonym_key)
        responses = []
        with TestClient(app) as client:
            for household in households:
                body = {"households": [document(registered, household)], "as_of": AS_OF, "explain": True}
                answer = client.post("/v1/households:score", json=body, headers=headers)
                assert answer.status_code == 200, answer.text
                responses.append(answer.json())
            if record:
                visit = client.post(f"/v1/households/{households[0]}/visits", json=VISIT, headers=headers)
                assert visit.status_code == 201, visit.text
        rows = _rows(machine.database_url)
    finally:
        database.dispose()
    return Served(responses, rows, holder.current.version)


def _county_households(registered: Registered, n: int) -> list[str]:
    households = registered.city["households"]
    chosen = households.loc[households["region_code"].str.startswith("990101"), "household_id"]
    return [str(h) for h in chosen.head(n)]


def _items(served: Served) -> list[list[dict[str, Any]]]:
    return [response["items"] for response in served.responses]


def _wipe(machine: Machine, fresh: Path) -> Machine:
    """Remove everything `machine` had (data folder, database); the same kind of empty database on a new machine.
    PostgreSQL: the test's schema dropped and created again, empty, as a fresh server's would be."""
    shutil.rmtree(machine.data_dir)
    url = make_url(machine.database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        for suffix in ("", "-wal", "-shm", ".write-gate"):
            Path(url.database + suffix).unlink(missing_ok=True)
        return Machine(fresh / "data", f"sqlite:///{fresh / 'db' / 'service.db'}")
    schema = str(url.query["options"]).removeprefix("-csearch_path=")
    admin = create_db_engine(postgres_base_url())
    try:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        admin.dispose()
    return Machine(fresh / "data", machine.database_url)


def _registry(machine: Machine) -> tuple[list[str], dict[str, str]]:
    client = MlflowClient(tracking_uri=machine.tracking_uri, registry_uri=machine.tracking_uri)
    versions = sorted(str(mv.version) for mv in client.search_model_versions(f"name = '{NAME}'"))
    aliases = {alias: str(client.get_model_version_by_alias(NAME, alias).version) for alias in (CHAMPION, CHALLENGER)}
    return versions, aliases


@pytest.fixture
def passphrase_file(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_restored_machine_serves_the_same_history_audit_and_scores(
    database_url: str, registered: Registered, session_model: RiskModel, passphrase_file: Path, tmp_path: Path
) -> None:
    old = _install(tmp_path / "old" / "data", database_url, session_model, registered.data.snapshots)
    households = _county_households(registered, 3)
    before = _serve(old, registered, households, record=True)
    assert before.version == "2"
    assert len(before.rows["score_records"]) == 3 and len(before.rows["audit_entries"]) == 3
    assert len(before.rows["visits"]) == 1
    original_key, _ = _keys(old)

    backup = tmp_path / "backup"
    done = old.relapse("backup", "--out", str(backup), "--passphrase-file", str(passphrase_file))
    assert done.returncode == 0, done.stderr
    manifest = json.loads((backup / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["database"]["alembic_revision"] == "0007"
    assert [(v["version"], v["aliases"]) for v in manifest["registry"]["versions"]] == [
        ("2", [CHAMPION]),
        ("3", [CHALLENGER]),
    ]
    assert manifest["keys"]["names"] == ["model-signing.key", "pseudonym.key"]
    sealed = (backup / "keys" / "keys.sealed").read_bytes()
    assert (old.data_dir / "secrets" / "pseudonym.key").read_bytes().strip() not in sealed

    new = _wipe(old, tmp_path / "new")
    done = new.relapse("restore", str(backup), "--passphrase-file", str(passphrase_file))
    assert done.returncode == 0, done.stderr

    assert _rows(new.database_url) == before.rows
    assert _registry(new) == (["2", "3"], {CHAMPION: "2", CHALLENGER: "3"})
    restored_key, _ = _keys(new)
    assert restored_key.secret == original_key.secret
    assert (new.data_dir / "secrets" / "pseudonym.key").stat().st_mode & 0o777 == 0o600
    ids = registered.city["members"]["id_number"].dropna().astype(str).head(20).tolist()
    assert [pseudonym(i, restored_key) for i in ids] == [pseudonym(i, original_key) for i in ids]

    after = _serve(new, registered, households, record=False)
    assert after.version == "2"
    assert _items(after) == _items(before)  # probabilities, reasons and measures, compared exactly


@pytest.fixture
def backed_up(
    registered: Registered, session_model: RiskModel, passphrase_file: Path, tmp_path: Path
) -> Iterator[tuple[Path, Machine]]:
    """A backup of a machine on SQLite, and the machine's data folder wiped."""
    old = _install(
        tmp_path / "old" / "data",
        f"sqlite:///{tmp_path / 'old' / 'service.db'}",
        session_model,
        registered.data.snapshots,
    )
    backup = tmp_path / "backup"
    done = old.relapse("backup", "--out", str(backup), "--passphrase-file", str(passphrase_file))
    assert done.returncode == 0, done.stderr
    yield backup, _wipe(old, tmp_path / "new")


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The error line of a refused command (stderr also carries the progress bar's last state)."""
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("relapse: ")]
    assert "Traceback (most recent call last)" not in done.stderr and len(errors) == 1, done.stderr
    return errors[0]


def _copy_with(backup: Path, into: Path, change: str, *, relist: bool = False) -> Path:
    """A copy of `backup` with one file changed (a byte flipped) or, with `relist`, removed and dropped from the
    manifest as if never there."""
    copy = Path(shutil.copytree(backup, into))
    target = copy / change
    if relist:
        target.unlink()
        manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
        del manifest["files"][change]
        (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    else:
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0x01
        target.write_bytes(bytes(data))
    return copy


def _nothing_restored(machine: Machine) -> bool:
    url = make_url(machine.database_url)
    assert url.database is not None
    return not Path(url.database).exists() and not (machine.data_dir / "secrets").exists()


@pytest.mark.slow
def test_restore_refuses_in_one_line_before_writing_anything(
    backed_up: tuple[Path, Machine], passphrase_file: Path, tmp_path: Path
) -> None:
    backup, new = backed_up
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase at all\n", encoding="utf-8")
    line = _one_line(new.relapse("restore", str(backup), "--passphrase-file", str(wrong)))
    assert "passphrase does not open keys/keys.sealed" in line, line
    assert _nothing_restored(new)

    booster = next(p for p in sorted(backup.rglob("booster.txt")) if "/v2/" in p.as_posix())
    corrupted = _copy_with(backup, tmp_path / "corrupted", booster.relative_to(backup).as_posix())
    line = _one_line(new.relapse("restore", str(corrupted), "--passphrase-file", str(passphrase_file)))
    assert f"backup file {booster.relative_to(backup).as_posix()} is corrupted" in line, line
    assert _nothing_restored(new)

    signed = (booster.parent / "manifest.json").relative_to(backup).as_posix()
    unsigned = _copy_with(backup, tmp_path / "unsigned", signed, relist=True)
    line = _one_line(new.relapse("restore", str(unsigned), "--passphrase-file", str(passphrase_file)))
    assert "model version 2 in the backup is refused: the model is unsigned (no manifest.json)" in line, line
    assert _nothing_restored(new)

    newer = Path(shutil.copytree(backup, tmp_path / "newer"))
    manifest = json.loads((newer / "manifest.json").read_text(encoding="utf-8"))
    manifest["database"]["alembic_revision"] = "0099"  # written by a release this one does not know
    (newer / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    line = _one_line(new.relapse("restore", str(newer), "--passphrase-file", str(passphrase_file)))
    assert "schema revision 0099, which this release does not know" in line, line
    assert _nothing_restored(new)

    create_secret_file(new.data_dir / "secrets" / "pseudonym.key")  # another machine's key in the way
    line = _one_line(new.relapse("restore", str(backup), "--passphrase-file", str(passphrase_file)))
    assert "pseudonym.key exists with another key" in line, line
    shutil.rmtree(new.data_dir / "secrets")

    upgrade_database(new.database_url)  # a database already in use: it holds a key the backup does not
    in_use = open_database(new.database_url, ServiceSettings(data_dir=new.data_dir, database_url=new.database_url))
    try:
        with in_use.session() as session:
            create_key(session, role=Role.ADMIN, region_prefix="", label="in the way")
    finally:
        in_use.dispose()
    line = _one_line(new.relapse("restore", str(backup), "--passphrase-file", str(passphrase_file)))
    assert "the database is not empty" in line, line
    assert not (new.data_dir / "secrets").exists()

    forced = new.relapse("restore", str(backup), "--passphrase-file", str(passphrase_file), "--force")
    assert forced.returncode == 0, forced.stderr
    assert _registry(new) == (["2", "3"], {CHAMPION: "2", CHALLENGER: "3"})
    engine = create_db_engine(new.database_url)
    try:
        with engine.connect() as connection:  # replaced by the backup's database, which has no key
            assert connection.execute(text("SELECT count(*) FROM api_keys")).scalar_one() == 0
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_backup_without_keys_says_so_loudly_and_holds_none(
    registered: Registered, session_model: RiskModel, tmp_path: Path
) -> None:
    machine = _install(
        tmp_path / "data", f"sqlite:///{tmp_path / 'service.db'}", session_model, registered.data.snapshots
    )
    done = machine.relapse("backup", "--out", str(tmp_path / "backup"), "--without-keys")
    assert done.returncode == 0, done.stderr
    assert "pseudonym and model-signing keys are NOT in this backup" in done.stderr
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["keys"]["included"] is False and not (tmp_path / "backup" / "keys").exists()
    assert all(not name.startswith("keys/") for name in manifest["files"])
    neither = machine.relapse("backup", "--out", str(tmp_path / "other"))
    assert neither.returncode == 2 and "--passphrase-file" in neither.stderr
