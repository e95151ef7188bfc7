"""Signed model files (models.signing): any change to a signed file, or a signature made with another key, is
refused before the model is parsed; keys are owner-only files or configured secrets."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from models.risk_model import COMPANION, FILES
from models.signing import MANIFEST, ModelIntegrityError, SigningKey, sign_folder, signing_key, verify_folder

KEY = SigningKey.from_text("model-signing-key-for-tests-0123456789", "test")
OTHER = SigningKey.from_text("another-model-signing-key-9876543210", "test")


def _model_files(folder: Path) -> Path:
    """Stand-ins for a model's files: signing reads bytes and never parses them."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(FILES):
        (folder / name).write_bytes(f"{name} content {i}\n".encode() * (i + 3))
    return folder


def test_a_signed_folder_verifies(tmp_path: Path) -> None:
    folder = _model_files(tmp_path / "model")
    sign_folder(folder, KEY)
    verify_folder(folder, KEY)  # raises when it does not check out
    manifest = json.loads((folder / MANIFEST).read_text())
    assert sorted(manifest["files"]) == sorted(FILES)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(FILES), position=st.integers(min_value=0, max_value=10_000), bit=st.integers(0, 7))
def test_any_changed_byte_of_any_file_is_refused_naming_the_file(
    tmp_path_factory: pytest.TempPathFactory, name: str, position: int, bit: int
) -> None:
    folder = _model_files(tmp_path_factory.mktemp("model"))
    sign_folder(folder, KEY)
    data = bytearray((folder / name).read_bytes())
    data[position % len(data)] ^= 1 << bit
    (folder / name).write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=f"{name} is not the file that was signed"):
        verify_folder(folder, KEY)


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    folder = _model_files(tmp_path / "model")
    sign_folder(folder, KEY)
    booster = folder / "booster.txt"
    booster.write_bytes(booster.read_bytes()[: booster.stat().st_size // 2])
    with pytest.raises(ModelIntegrityError, match="booster.txt is not the file that was signed"):
        verify_folder(folder, KEY)


def test_a_manifest_rewritten_without_the_key_is_refused(tmp_path: Path) -> None:
    """An attacker who edits a file and puts its new digest into the manifest cannot make the signature."""
    folder = _model_files(tmp_path / "model")
    sign_folder(folder, KEY)
    (folder / "calibrator.json").write_text('{"kind": "sigmoid", "a": -1.0, "b": 0.0}')
    sign_folder(folder, OTHER)  # every digest right, signed with a key the service does not hold
    with pytest.raises(ModelIntegrityError, match="signature does not match"):
        verify_folder(folder, KEY)


def test_unsigned_and_unreadable_manifests_are_refused(tmp_path: Path) -> None:
    folder = _model_files(tmp_path / "model")
    with pytest.raises(ModelIntegrityError, match="unsigned"):
        verify_folder(folder, KEY)
    (folder / MANIFEST).write_text("{not json")
    with pytest.raises(ModelIntegrityError, match="cannot be read"):
        verify_folder(folder, KEY)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    folder = _model_files(tmp_path / "model")
    sign_folder(folder, KEY)
    (folder / "spec.json").unlink()
    with pytest.raises(ModelIntegrityError, match="lacks spec.json"):
        verify_folder(folder, KEY)


def test_the_local_key_is_created_once_owner_only_and_a_configured_key_wins(tmp_path: Path) -> None:
    with pytest.raises(ModelIntegrityError, match="no model-signing key"):
        signing_key(tmp_path)  # the service never creates one
    created = signing_key(tmp_path, create=True)
    again = signing_key(tmp_path, create=True)
    assert created.secret == again.secret
    path = tmp_path / "secrets" / "model-signing.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    configured = signing_key(tmp_path, SecretStr("x" * 40))
    assert configured.secret == b"x" * 40 and configured.origin == "RELAPSE_MODEL_SIGNING_KEY"
    with pytest.raises(ModelIntegrityError, match="too short"):
        signing_key(tmp_path, SecretStr("short"))
    assert "x" * 40 not in repr(configured)


def test_a_companion_is_signed_with_its_model_and_any_change_to_it_is_refused(tmp_path: Path) -> None:
    """A need model's identification companion (`identification/`) is covered by the model's one signature:
    edited, removed or added after signing, the model is refused."""
    folder = _model_files(tmp_path / "model")
    _model_files(folder / COMPANION)
    sign_folder(folder, KEY)
    verify_folder(folder, KEY)
    manifest = json.loads((folder / MANIFEST).read_text())
    assert sorted(manifest["files"]) == sorted([*FILES, *(f"{COMPANION}/{name}" for name in FILES)])

    calibrator = folder / COMPANION / "calibrator.json"
    original = calibrator.read_bytes()
    calibrator.write_bytes(original + b" ")
    with pytest.raises(ModelIntegrityError, match=f"{COMPANION}/calibrator.json is not the file that was signed"):
        verify_folder(folder, KEY)
    calibrator.write_bytes(original)

    (folder / COMPANION / "meta.json").unlink()
    with pytest.raises(ModelIntegrityError, match=f"lacks {COMPANION}/meta.json"):
        verify_folder(folder, KEY)

    alone = _model_files(tmp_path / "alone")
    sign_folder(alone, KEY)
    _model_files(alone / COMPANION)  # a companion slipped in after signing
    with pytest.raises(ModelIntegrityError, match=f"does not cover {COMPANION}/booster.txt"):
        verify_folder(alone, KEY)
