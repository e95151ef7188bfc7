"""Keyed pseudonyms of national ID numbers (docs/architecture.md, non-negotiable 5).

ID numbers never leave ingestion in clear. Each is replaced by `person_pseudonym` = the first 32 hex
characters (128 bits) of HMAC-SHA256(key, ID number), with `pseudonym_key_version` beside it. 128 bits keep
the chance of two people colliding negligible even for the whole country (birthday bound ≈ 2^64 IDs) while
halving the storage of a full digest. The key is a secret: without it, nobody can recompute a pseudonym
from a guessed ID number — ID numbers are structured enough that an unkeyed hash could be brute-forced.

The key text (from `RELAPSE_PSEUDONYM_KEY`, or the local key file) is used as UTF-8 bytes.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Final

import pandas as pd

from features.errors import PseudonymKeyError
from features.secret_files import create_secret_file
from features.settings import FeaturesSettings, get_settings

PSEUDONYM_HEX_CHARS: Final = 32
MIN_KEY_CHARS: Final = 32


@dataclass(frozen=True)
class PseudonymKey:
    """An HMAC key and its version; `origin` says where it came from (never the secret itself)."""

    secret: bytes = field(repr=False)
    version: str
    origin: str = "explicit"

    @classmethod
    def from_text(cls, text: str, version: str, origin: str = "explicit") -> PseudonymKey:
        text = text.strip()
        if len(text) < MIN_KEY_CHARS:
            raise PseudonymKeyError(
                f"pseudonym key from {origin} is too short ({len(text)} characters, need {MIN_KEY_CHARS})"
            )
        return cls(text.encode("utf-8"), version, origin)


def pseudonym(value: str, key: PseudonymKey) -> str:
    """The keyed pseudonym of one (checked) ID number, as `pseudonymise` makes it."""
    return hmac.digest(key.secret, value.encode("ascii"), "sha256").hex()[:PSEUDONYM_HEX_CHARS]


def pseudonymise(ids: pd.Series, key: PseudonymKey) -> pd.Series:
    """Keyed pseudonyms of ID numbers (missing stays missing); callers check the IDs first.

    HMAC has no vectorised form; `hmac.digest` is OpenSSL's one-shot path (about a second per million).
    """
    present = ids.notna().to_numpy()
    digests = [pseudonym(value, key) for value in ids[present].astype(str)]
    out = pd.Series(pd.NA, index=ids.index, dtype="string")
    out[present] = digests
    return out


def load_key(settings: FeaturesSettings | None = None) -> PseudonymKey:
    """The configured key: `RELAPSE_PSEUDONYM_KEY`, else the local key file; raises if neither exists."""
    settings = settings or get_settings()
    if settings.pseudonym_key is not None:
        return PseudonymKey.from_text(
            settings.pseudonym_key.get_secret_value(), settings.pseudonym_key_version, "RELAPSE_PSEUDONYM_KEY"
        )
    path = settings.pseudonym_key_file
    if path.is_file():
        return PseudonymKey.from_text(path.read_text(encoding="utf-8"), settings.pseudonym_key_version, str(path))
    raise PseudonymKeyError(
        f"no pseudonym key: set RELAPSE_PSEUDONYM_KEY or create {path} (`relapse ingest` creates one)"
    )


def ensure_local_key(settings: FeaturesSettings | None = None) -> tuple[PseudonymKey, bool]:
    """The configured key, creating a random local key file (mode 0600) when none exists.

    Returns the key and whether a new file was created, so that the caller can say so: pseudonyms made
    with a new key do not match those made earlier with another one.
    """
    settings = settings or get_settings()
    try:
        return load_key(settings), False
    except PseudonymKeyError:
        if settings.pseudonym_key is not None:
            raise  # a configured key that is too weak must not be silently replaced
    created = create_secret_file(settings.pseudonym_key_file)
    return load_key(settings), created
