"""National ID numbers: checksum validation and keyed pseudonyms (docs/architecture.md, non-negotiable 5).

ID numbers never leave ingestion in clear. Each is replaced by `person_pseudonym` = the first 32 hex
characters (128 bits) of HMAC-SHA256(key, ID number), with `pseudonym_key_version` beside it. 128 bits keep
the chance of two people colliding negligible even for the whole country (birthday bound ≈ 2^64 IDs) while
halving the storage of a full digest. The key is a secret: without it, nobody can recompute a pseudonym
from a guessed ID number — ID numbers are structured enough that an unkeyed hash could be brute-forced.

The key text (from `RELAPSE_PSEUDONYM_KEY`, or the local key file) is used as UTF-8 bytes.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.errors import PseudonymKeyError
from features.settings import FeaturesSettings, get_settings

# GB 11643-1999: 6-digit address code, 8-digit birth date, 3-digit sequence, 1 check character.
ID_NUMBER_PATTERN: Final = r"^\d{17}[\dX]$"
_ID_NUMBER: Final = re.compile(r"[0-9]{17}[0-9X]")  # the same, for Python's `re` (whose \d takes any digit)
ID_WEIGHTS: Final = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
# Check character for (weighted digit sum mod 11) = 0, 1, …, 10.
ID_CHECK_CHARACTERS: Final = "10X98765432"

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


def check_id_numbers(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised GB 11643 check: (malformed, bad_checksum) boolean masks; missing IDs are neither.

    An ID is malformed when it is not 17 digits followed by a digit or "X"; the checksum is only
    judged for well-formed IDs, so each invalid ID is in exactly one mask.
    """
    values = pa.array(ids.astype("string"))
    present = np.asarray(values.is_valid())
    well_formed = np.asarray(pc.fill_null(pc.match_substring_regex(values, ID_NUMBER_PATTERN), False))
    malformed = present & ~well_formed
    bad_checksum = np.zeros(len(ids), dtype=bool)
    if well_formed.any():
        chars = _ascii_matrix(pc.filter(values, pa.array(well_formed)), width=18)
        weighted = (chars[:, :17].astype(np.int64) - ord("0")) @ ID_WEIGHTS
        expected = np.frombuffer(ID_CHECK_CHARACTERS.encode("ascii"), dtype=np.uint8)[weighted % 11]
        bad_checksum[well_formed] = chars[:, 17] != expected
    return malformed, bad_checksum


def id_check_character(first17: str) -> str:
    """The check character for 17 leading digits (used by test factories and the generator)."""
    total = sum(int(d) * int(w) for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARACTERS[total % 11]


def _ascii_matrix(values: pa.Array, width: int) -> np.ndarray:
    """View a string array whose every value has `width` ASCII characters as an (n, width) byte matrix."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    values = values.cast(pa.large_string())
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[values.offset : values.offset + len(values) + 1]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    return data[offsets[0] : offsets[-1]].reshape(-1, width)


def valid_id_number(value: str) -> bool:
    """Whether one ID number is well formed (17 ASCII digits, then a digit or "X") with a right check character:
    `check_id_numbers` for a single value."""
    return _ID_NUMBER.fullmatch(value) is not None and id_check_character(value[:17]) == value[17]


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
    path = settings.pseudonym_key_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    # O_EXCL: two concurrent ingests must not both write a key; the loser reads the winner's file.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_key(settings), False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return load_key(settings), True
