from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from features.contract.id_numbers import check_id_numbers, id_check_character
from features.errors import PseudonymKeyError, SourceDataError
from features.pseudonyms import ingestion
from features.pseudonyms.ingestion import ingest, load_sources
from features.pseudonyms.keys import (
    PSEUDONYM_HEX_CHARS,
    PseudonymKey,
    ensure_local_key,
    load_key,
    pseudonymise,
)
from features.reading.sources import Sources, write_sources
from features.settings import FeaturesSettings, get_settings
from relapse import data_commands
from tests.factories import gb11643_check_character, make_id_number, make_sources

KEY = PseudonymKey.from_text("k" * 40, "v1")
OTHER_KEY = PseudonymKey.from_text("o" * 40, "v2")

# A published sample number (GB 11643 examples) and numbers built with the reference checksum.
VALID_IDS = ["11010519491231002X", make_id_number("610602", pd.Timestamp("1985-07-03").date(), 123)]


def test_reference_checksum_matches_the_published_example() -> None:
    assert gb11643_check_character("11010519491231002") == "X"


@pytest.mark.parametrize(
    "first17", ["11010519491231002", "61060219850703123", "00000000000000000", "99999999999999999"]
)
def test_check_character_agrees_with_reference(first17: str) -> None:
    assert id_check_character(first17) == gb11643_check_character(first17)


def test_vectorised_check_agrees_with_reference_on_random_ids() -> None:
    rng = np.random.default_rng(11)
    first17 = ["".join(map(str, rng.integers(0, 10, 17))) for _ in range(2_000)]
    right = [f + gb11643_check_character(f) for f in first17]
    wrong = [f + ("0" if gb11643_check_character(f) != "0" else "1") for f in first17]
    malformed, bad = check_id_numbers(pd.Series(right + wrong, dtype="string"))
    assert not malformed.any()
    assert bad.tolist() == [False] * len(right) + [True] * len(wrong)


@pytest.mark.parametrize(
    ("value", "is_malformed", "is_bad_checksum"),
    [
        ("11010519491231002X", False, False),
        ("110105194912310021", False, True),
        ("11010519491231002", True, False),  # 17 characters
        ("1101051949123100201", True, False),  # 19 characters
        ("11010519491231002Y", True, False),
        ("１１０１０５１９４９１２３１００２Ｘ", True, False),  # full-width digits are not digits here
        (None, False, False),  # missing is allowed (the column is nullable)
    ],
)
def test_check_id_numbers_cases(value: str | None, is_malformed: bool, is_bad_checksum: bool) -> None:
    malformed, bad = check_id_numbers(pd.Series([value, "11010519491231002X"], dtype="string"))
    assert (malformed[0], bad[0]) == (is_malformed, is_bad_checksum)
    assert not malformed[1] and not bad[1]


def test_pseudonym_is_truncated_hmac_sha256() -> None:
    got = pseudonymise(pd.Series(VALID_IDS, dtype="string"), KEY)
    expected = [hmac.new(b"k" * 40, i.encode(), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_CHARS] for i in VALID_IDS]
    assert got.tolist() == expected


def test_pseudonyms_stable_under_one_key_and_differ_across_keys_and_ids() -> None:
    ids = pd.Series(VALID_IDS + [None], dtype="string")
    first, again, other = pseudonymise(ids, KEY), pseudonymise(ids, KEY), pseudonymise(ids, OTHER_KEY)
    assert first.tolist() == again.tolist()
    assert first[0] != first[1]
    assert first[0] != other[0] and first[1] != other[1]
    assert pd.isna(first[2])


def test_key_secret_is_not_in_repr() -> None:
    assert "kkkk" not in repr(KEY)


def test_short_keys_are_rejected() -> None:
    with pytest.raises(PseudonymKeyError, match="too short"):
        PseudonymKey.from_text("secret", "v1")


def test_ingest_replaces_id_numbers_and_drops_names(sources: Sources) -> None:
    ids = sources.tables["members"]["id_number"].copy()
    result = ingest(sources, KEY)
    members = result["members"]
    assert "id_number" not in members.columns and "name" not in members.columns
    assert members["person_pseudonym"].tolist() == pseudonymise(ids.astype("string"), KEY).tolist()
    assert set(members["pseudonym_key_version"]) == {"v1"}
    assert all("name" not in frame.columns for frame in result.tables.values())


def test_ingest_again_keeps_existing_pseudonyms(sources: Sources) -> None:
    once = ingest(sources, KEY)
    twice = ingest(once, None)
    pd.testing.assert_frame_equal(once["members"], twice["members"])


def test_invalid_ids_raise_naming_every_row_without_the_number(sources: Sources) -> None:
    members = sources.tables["members"]
    bad = members.loc[4, "id_number"][:17] + ("0" if members.loc[4, "id_number"][17] != "0" else "1")
    members.loc[4, "id_number"] = bad
    members.loc[9, "id_number"] = "12345"
    with pytest.raises(SourceDataError) as caught:
        ingest(sources, KEY)
    found = [(v.table, v.row, v.row_key, v.column, v.reason) for v in caught.value.violations]
    assert found == [
        ("members", 5, "M000005", "id_number", "id_checksum"),
        ("members", 10, "M000010", "id_number", "pattern"),
    ]
    message = str(caught.value)
    assert "row 5 (M000005)" in message and bad not in message and bad[:10] not in message


def test_load_sources_validates_then_ingests(tmp_path: Path, sources: Sources) -> None:
    write_sources(sources, tmp_path / "ok", "csv")
    loaded = load_sources(tmp_path / "ok", KEY)
    assert "person_pseudonym" in loaded["members"].columns

    sources.tables["members"].loc[0, "gender"] = "robot"
    write_sources(sources, tmp_path / "bad", "csv")
    with pytest.raises(SourceDataError, match="1 contract violations") as caught:
        load_sources(tmp_path / "bad", KEY)
    assert [(v.row_key, v.column, v.reason) for v in caught.value.violations] == [("M000001", "gender", "bad_code")]


def test_key_from_environment(isolated_settings: FeaturesSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAPSE_PSEUDONYM_KEY", "e" * 32)
    monkeypatch.setenv("RELAPSE_PSEUDONYM_KEY_VERSION", "2026-01")
    get_settings.cache_clear()
    key, created = ensure_local_key()
    assert (key.secret, key.version, created) == (b"e" * 32, "2026-01", False)
    assert not get_settings().pseudonym_key_file.exists()


def test_local_key_is_created_once_with_private_permissions(isolated_settings: FeaturesSettings) -> None:
    with pytest.raises(PseudonymKeyError, match="no pseudonym key"):
        load_key()
    key, created = ensure_local_key()
    path = isolated_settings.pseudonym_key_file
    assert created and key.origin == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again, created_again = ensure_local_key()
    assert not created_again and again == key == load_key()


def test_settings_do_no_io_at_construction(tmp_path: Path) -> None:
    settings = FeaturesSettings(data_dir=tmp_path / "nowhere")
    assert settings.pseudonym_key_file == tmp_path / "nowhere" / "secrets" / "pseudonym.key"
    assert not (tmp_path / "nowhere").exists()


def test_ingest_command_creates_a_key_and_says_so(tmp_path: Path, isolated_settings: FeaturesSettings) -> None:
    app = typer.Typer()
    data_commands.register(app)
    write_sources(make_sources(), tmp_path / "raw", "csv")
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "raw"), "--out", str(tmp_path / "clean")])
    assert result.exit_code == 0, result.output
    assert "Created a new pseudonym key" in result.output
    clean = load_sources(tmp_path / "clean")
    assert "person_pseudonym" in clean["members"].columns and "name" not in clean["members"].columns
    again = CliRunner().invoke(app, ["ingest", str(tmp_path / "raw"), "--out", str(tmp_path / "clean2")])
    assert again.exit_code == 0 and "Created" not in again.output


_FIRST17 = st.text(alphabet="0123456789", min_size=17, max_size=17)
_ID_CELLS = st.one_of(
    st.none(),
    _FIRST17.map(lambda first17: first17 + gb11643_check_character(first17)),  # valid
    _FIRST17.map(lambda first17: first17 + ("1" if gb11643_check_character(first17) == "0" else "0")),  # checksum
    st.sampled_from(["11010519491231002", "１１０１０５１９４９１２３１００２Ｘ", "11010519491231002Y"]),  # malformed
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_ID_CELLS, st.sampled_from([None, "earlier-pseudonym"])), min_size=1, max_size=6))
def test_a_households_members_are_pseudonymised_as_the_vectorised_path_does(
    cells: list[tuple[str | None, str | None]],
) -> None:
    """The cell-by-cell path for a few members (an API request) against the vectorised one, forced; with and
    without pseudonyms from an earlier ingestion, and with invalid IDs (the vectorised path names them)."""
    ids = [cell for cell, _ in cells]
    members = pd.DataFrame({"member_id": [f"m{i}" for i in range(len(cells))], "id_number": ids}, dtype="string")
    earlier = members.assign(
        person_pseudonym=pd.array([e for _, e in cells], dtype="string"),
        pseudonym_key_version=pd.array(["v0" if e else None for _, e in cells], dtype="string"),
    )
    for frame in (members, earlier):
        outcomes = []
        for small_rows in (ingestion._SMALL_ROWS, -1):
            original, ingestion._SMALL_ROWS = ingestion._SMALL_ROWS, small_rows
            try:
                outcomes.append(ingestion._pseudonymise_members(frame.copy(), KEY))
            except SourceDataError as error:
                outcomes.append(error.violations)
            finally:
                ingestion._SMALL_ROWS = original
        small, vectorised = outcomes
        if isinstance(vectorised, pd.DataFrame):
            assert isinstance(small, pd.DataFrame)
            pd.testing.assert_frame_equal(small, vectorised, check_exact=True)
        else:
            assert small == vectorised
