"""Fictional but well-formed resident ID numbers (GB 11643) for the synthetic members.

The address part is the county code (`9901CC`, a province that does not exist), so no generated number can
belong to a real person; the checksum is valid so that ingestion's checks and pseudonymisation run for real.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CHECK = np.array(list("10X98765432"))


def checksum_chars(bodies: np.ndarray) -> np.ndarray:
    """The 18th character for 17-digit bodies given as int64."""
    digits = (bodies[:, None] // 10 ** np.arange(16, -1, -1)) % 10
    return _CHECK[(digits * _WEIGHTS).sum(axis=1) % 11]


def id_numbers(county_code: np.ndarray, birth: np.ndarray, male: np.ndarray) -> pa.Array:
    """Unique ID numbers: the sequence code is odd for men, even for women (GB 11643)."""
    ymd = birth.astype("datetime64[D]")
    year = ymd.astype("datetime64[Y]").astype(int) + 1970
    month = ymd.astype("datetime64[M]").astype(int) % 12 + 1
    day = (ymd - ymd.astype("datetime64[M]")).astype(int) + 1
    date_num = year * 10_000 + month * 100 + day
    order = np.lexsort((male, date_num, county_code))
    key = np.stack([county_code, date_num, male.astype(int)])[:, order]
    new_group = np.r_[True, np.any(key[:, 1:] != key[:, :-1], axis=0)]
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(order)), 0))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - group_start
    seq = 2 * rank + np.where(male, 1, 2)
    if seq.max(initial=0) > 999:
        raise ValueError("too many people born on one day in one county for unique ID numbers")
    body = county_code.astype(np.int64) * 10**11 + date_num.astype(np.int64) * 1_000 + seq
    text = pc.cast(pa.array(body), pa.string())
    return pc.binary_join_element_wise(text, pa.array(checksum_chars(body)), "")
