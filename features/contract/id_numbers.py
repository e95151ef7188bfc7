"""National ID numbers (GB 11643-1999) as the contract defines them: the format and the check character.

Pure functions of the numbers, with no key: validation judges them, and ingestion checks them before
replacing each by its keyed pseudonym (`features.pseudonyms.keys`).
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# GB 11643-1999: 6-digit address code, 8-digit birth date, 3-digit sequence, 1 check character.
ID_NUMBER_PATTERN: Final = r"^\d{17}[\dX]$"
_ID_NUMBER: Final = re.compile(r"[0-9]{17}[0-9X]")  # the same, for Python's `re` (whose \d takes any digit)
ID_WEIGHTS: Final = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
# Check character for (weighted digit sum mod 11) = 0, 1, …, 10.
ID_CHECK_CHARACTERS: Final = "10X98765432"


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


# An ID number inside other text: 18 characters not joined to further digits (longer digit runs are codes).
_EMBEDDED_ID: Final = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")


def contains_id_number(text: str) -> bool:
    """Whether `text` holds a national ID number anywhere: 18 characters with a valid check character and a
    real birth date. Used to refuse identifiers and notes that would carry one into storage in clear."""
    for match in _EMBEDDED_ID.finditer(text):
        candidate = match.group().upper()
        if id_check_character(candidate[:17]) == candidate[17] and _birth_date_ok(candidate[6:14]):
            return True
    return False


def _birth_date_ok(digits: str) -> bool:
    year, month, day = int(digits[:4]), int(digits[4:6]), int(digits[6:])
    if not 1850 <= year <= 2100 or not 1 <= month <= 12:
        return False
    days = (
        31,
        29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    )
    return 1 <= day <= days[month - 1]
