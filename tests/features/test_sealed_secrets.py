"""Key files sealed for backups: only the right passphrase opens them, any change is refused, and the format is
the documented one (scrypt, then AES-256-GCM), readable with the primitives alone."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from features.sealed_secrets import SealedSecretsError, read_passphrase, seal, unseal, write_secret

SECRETS = {"pseudonym.key": b"a" * 64 + b"\n", "model-signing.key": b"\x00\xffbinary too"}
PASSPHRASE = b"a long enough passphrase"


def test_the_right_passphrase_opens_what_was_sealed() -> None:
    assert unseal(seal(SECRETS, PASSPHRASE), PASSPHRASE, "keys.sealed") == SECRETS


def test_the_documented_primitives_open_it_without_this_module() -> None:
    document = json.loads(seal(SECRETS, PASSPHRASE))
    kdf, names = document["kdf"], document["names"]
    assert (kdf["name"], document["cipher"]["name"]) == ("scrypt", "aes-256-gcm")
    key = Scrypt(salt=base64.b64decode(kdf["salt"]), length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(PASSPHRASE)
    associated = json.dumps({"format": document["format"], "names": names}).encode()
    plaintext = AESGCM(key).decrypt(
        base64.b64decode(document["cipher"]["nonce"]), base64.b64decode(document["ciphertext"]), associated
    )
    assert {k: base64.b64decode(v) for k, v in json.loads(plaintext).items()} == SECRETS


def test_each_sealing_draws_a_fresh_salt_and_nonce() -> None:
    first, second = json.loads(seal(SECRETS, PASSPHRASE)), json.loads(seal(SECRETS, PASSPHRASE))
    assert first["kdf"]["salt"] != second["kdf"]["salt"] and first["ciphertext"] != second["ciphertext"]


def _changed(field: str) -> bytes:
    document = json.loads(seal(SECRETS, PASSPHRASE))
    if field == "names":
        document["names"] = ["reports.key", "pseudonym.key"]
    else:
        raw = bytearray(base64.b64decode(document["ciphertext"]))
        raw[0] ^= 1
        document["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("sealed", "passphrase", "message"),
    [
        (seal(SECRETS, PASSPHRASE), b"another passphrase!", "passphrase does not open keys.sealed"),
        (_changed("ciphertext"), PASSPHRASE, "passphrase does not open keys.sealed"),
        (_changed("names"), PASSPHRASE, "passphrase does not open keys.sealed"),
        (b"{not json", PASSPHRASE, "keys.sealed cannot be read"),
        (b'{"format": "other"}', PASSPHRASE, "keys.sealed is not a sealed secrets file"),
    ],
)
def test_a_wrong_passphrase_or_a_changed_file_is_refused(sealed: bytes, passphrase: bytes, message: str) -> None:
    with pytest.raises(SealedSecretsError, match=message):
        unseal(sealed, passphrase, "keys.sealed")


def test_a_short_passphrase_is_refused_naming_its_file(tmp_path: Path) -> None:
    path = tmp_path / "passphrase"
    path.write_text("  short  \nsecond line ignored\n", encoding="utf-8")
    with pytest.raises(SealedSecretsError, match=r"passphrase in .*passphrase is too short \(5 characters, need 12\)"):
        read_passphrase(path)
    path.write_text("  twelve chars ok \n", encoding="utf-8")
    assert read_passphrase(path) == b"twelve chars ok"


def test_a_restored_key_is_owner_only_and_never_replaces_one_silently(tmp_path: Path) -> None:
    target = tmp_path / "secrets" / "pseudonym.key"
    write_secret(target, b"first")
    assert target.read_bytes() == b"first"
    assert (target.stat().st_mode & 0o777, target.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    with pytest.raises(FileExistsError):
        write_secret(target, b"second")
    assert target.read_bytes() == b"first" and [p.name for p in target.parent.iterdir()] == ["pseudonym.key"]
    write_secret(target, b"second", replace=True)
    assert target.read_bytes() == b"second" and target.stat().st_mode & 0o777 == 0o600
