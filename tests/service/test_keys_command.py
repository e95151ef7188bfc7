"""`relapse keys`: create prints the key once (stdout), list never shows secrets, revoke refuses the key after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from relapse.cli import app
from service.db import open_database
from service.errors import AuthenticationError
from service.keys import verify_key
from service.settings import get_settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("RELAPSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("RELAPSE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def test_create_list_revoke(data_dir: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--role", "monitor", "--region", "990101", "--label", "grid"])
    assert created.exit_code == 0, created.output
    plaintext = created.stdout.strip().splitlines()[-1]
    assert plaintext.startswith("rr_")
    assert (data_dir / "service.db").is_file()  # the default database, migrated on first use

    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0 and "990101" in listed.stdout and "monitor" in listed.stdout
    assert plaintext.split("_", 2)[2] not in listed.stdout

    database = open_database()
    try:
        with database.session() as session:
            assert verify_key(session, plaintext).scope.region_prefix == "990101"
        assert runner.invoke(app, ["keys", "revoke", "1"]).exit_code == 0
        with database.session() as session, pytest.raises(AuthenticationError):
            verify_key(session, plaintext)
    finally:
        database.dispose()
    assert runner.invoke(app, ["keys", "revoke", "42"]).exit_code == 1


@pytest.mark.parametrize(
    ("role", "region", "field"), [("monitor", "", "region_prefix"), ("boss", "99", "role"), ("official", "9", "region")]
)
def test_bad_options_name_the_field(data_dir: Path, role: str, region: str, field: str) -> None:
    result = CliRunner().invoke(app, ["keys", "create", "--role", role, "--region", region])
    assert result.exit_code == 2
    assert field in result.stderr and "rr_" not in result.stdout
