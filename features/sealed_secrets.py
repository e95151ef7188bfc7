"""Secret files sealed under a passphrase, for backups: the pseudonym key and the model-signing key leave the
machine only encrypted.

The passphrase is stretched with scrypt (memory-hard, so guessing passphrases on a stolen backup is slow) into
an AES-256-GCM key; GCM's tag makes a wrong passphrase and a changed file the same clean refusal, never garbage
keys. Each sealing draws a fresh salt and nonce. The file names travel as associated data, so that the sealed
blob cannot be relabelled without the passphrase noticing.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from features.errors import FeaturesError

FORMAT: Final = "relapse-sealed-secrets-v1"
# scrypt cost: 2^15 × 8 × 128 bytes = 32 MiB per guess, the usual interactive setting.
SCRYPT_N: Final = 2**15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
MIN_PASSPHRASE_CHARS: Final = 12


class SealedSecretsError(FeaturesError):
    """A passphrase that is too short or does not open the sealed file, or a sealed file that cannot be read."""


def read_passphrase(path: Path) -> bytes:
    """The passphrase in `path` (its first line, surrounding white space ignored), checked for length."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    text = lines[0].strip() if lines else ""
    if len(text) < MIN_PASSPHRASE_CHARS:
        raise SealedSecretsError(
            f"the passphrase in {path} is too short ({len(text)} characters, need {MIN_PASSPHRASE_CHARS})"
        )
    return text.encode("utf-8")


def seal(secrets_by_name: dict[str, bytes], passphrase: bytes) -> bytes:
    """A JSON document holding `secrets_by_name` encrypted under `passphrase`."""
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    names = sorted(secrets_by_name)
    plaintext = json.dumps({name: base64.b64encode(secrets_by_name[name]).decode() for name in names}).encode()
    ciphertext = AESGCM(_key(passphrase, salt)).encrypt(nonce, plaintext, _associated(names))
    document = {
        "format": FORMAT,
        "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": _b64(salt)},
        "cipher": {"name": "aes-256-gcm", "nonce": _b64(nonce)},
        "names": names,
        "ciphertext": _b64(ciphertext),
    }
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def unseal(sealed: bytes, passphrase: bytes, origin: str) -> dict[str, bytes]:
    """The secrets in a `seal` document; `SealedSecretsError` naming `origin` if it cannot be opened."""
    try:
        document = json.loads(sealed)
        if document.get("format") != FORMAT:
            raise SealedSecretsError(f"{origin} is not a sealed secrets file of this release ({FORMAT})")
        kdf, cipher = document["kdf"], document["cipher"]
        names = [str(name) for name in document["names"]]
        salt, nonce = base64.b64decode(kdf["salt"]), base64.b64decode(cipher["nonce"])
        ciphertext = base64.b64decode(document["ciphertext"])
        key = _key(passphrase, salt, int(kdf["n"]), int(kdf["r"]), int(kdf["p"]))
    except (ValueError, KeyError, TypeError) as error:
        raise SealedSecretsError(f"{origin} cannot be read ({type(error).__name__})") from None
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, _associated(names))
    except InvalidTag:
        raise SealedSecretsError(
            f"the passphrase does not open {origin} (wrong passphrase, or the file was changed)"
        ) from None
    return {name: base64.b64decode(value) for name, value in json.loads(plaintext).items()}


def write_secret(path: Path, secret: bytes, *, replace: bool = False) -> None:
    """Write a restored secret file owner-only (folder 0700, file 0600), as `create_secret_file` does; an
    existing file is kept unless `replace` (then swapped in whole by a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    staging = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    if replace:
        os.replace(staging, path)
        return
    try:
        os.link(staging, path)  # fails when the file exists: a key already here is never overwritten silently
    finally:
        staging.unlink()


def _key(passphrase: bytes, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)


def _associated(names: list[str]) -> bytes:
    return json.dumps({"format": FORMAT, "names": names}).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
