"""The input hash of a decision, one rule for every road (docs/architecture.md, non-negotiable 4).

The hash names what the model read: BLAKE2b-128 of the household's row of the model matrix (float64,
little-endian, one NaN bit pattern, no negative zero; `models.explanation_cache.profile_hashes`). The batch
runner computes the same bytes as each result row's `profile_hash` (the explanation cache's key), so a household
scored through the API and through a batch job with the same profile is audited with the same hash. The matrix
is built after pseudonymisation, so no ID number is hashed.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from models.explanation_cache import profile_hashes

PREFIX: Final = "blake2b:"


def input_hashes(x: np.ndarray) -> list[str]:
    """The input hash of each row of a model matrix."""
    return [PREFIX + digest.hex() for digest in profile_hashes(x)]


def from_profile_hash(profile_hash: str) -> str:
    """The input hash of a batch result row, from its `profile_hash` column."""
    return PREFIX + profile_hash
