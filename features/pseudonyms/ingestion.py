"""Ingestion: the one way source data enters the system — read, validate, pseudonymise.

After `ingest`, no table holds a national ID number or a name (docs/architecture.md, non-negotiable 5):
`members.id_number` becomes `person_pseudonym` + `pseudonym_key_version`, and `name` columns are dropped
wherever they appear. Everything downstream calls `load_sources`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from features.contract.id_numbers import check_id_numbers, valid_id_number
from features.contract.tables import withheld_columns
from features.contract.violations import WITHHELD, Reason, Violation
from features.errors import PseudonymKeyError, SourceDataError
from features.pseudonyms.keys import PseudonymKey, load_key, pseudonym, pseudonymise
from features.reading.frames import column_arrays, frame_of, text_array
from features.reading.sources import Sources, coerce_sources, read_sources
from features.validation.report import DEFAULT_MAX_PER_KIND, validate_sources


def ingest(sources: Sources, key: PseudonymKey | None) -> Sources:
    """Replace ID numbers by keyed pseudonyms and drop names; raises `SourceDataError` on any invalid ID.

    `key` may be None only when no table holds an ID number (e.g. a folder that was ingested before).
    """
    sources = coerce_sources(sources)
    tables: dict[str, pd.DataFrame] = {}
    for name, frame in sources.tables.items():
        dropped = [c for c in withheld_columns(name) if c != "id_number" and c in frame.columns]
        if dropped:
            frame = _without(frame, dropped)
        if name == "members":
            frame = _pseudonymise_members(frame, key)
        tables[name] = frame
    return Sources(tables, dict(sources.manifest), warnings=list(sources.warnings), coerced=True)


def _pseudonymise_members(members: pd.DataFrame, key: PseudonymKey | None) -> pd.DataFrame:
    if "id_number" not in members.columns:
        return members  # ingested before
    ids = members["id_number"]
    if len(ids) <= _SMALL_ROWS and key is not None:
        small = _pseudonymise_few(ids.tolist(), members, key)
        if small is not None:
            return small
    out = _without(members, ["id_number"])
    if ids.isna().all():
        return out  # nothing to pseudonymise; pseudonyms from an earlier ingestion are kept as they are
    if key is None:
        raise PseudonymKeyError("members hold ID numbers but no pseudonym key was given")
    malformed, bad_checksum = check_id_numbers(ids)
    invalid = int(malformed.sum() + bad_checksum.sum())
    if invalid:
        raise SourceDataError(
            f"{invalid} invalid ID numbers in members; nothing was ingested",
            _id_violations(members, malformed, bad_checksum),
        )
    fresh = ids.notna()
    pseudonyms = pseudonymise(ids, key)
    versions = pd.Series(pd.NA, index=out.index, dtype="string").mask(fresh, key.version)
    if "person_pseudonym" in out.columns:  # rows without an ID keep an earlier ingestion's pseudonym
        pseudonyms = pseudonyms.fillna(out["person_pseudonym"])
        versions = versions.fillna(out["pseudonym_key_version"])
    out["person_pseudonym"] = pseudonyms
    out["pseudonym_key_version"] = versions
    return out


def _without(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """`frame.drop(columns=columns)`: the same frame, taken by position (drop's label handling is a fixed cost
    that dominates at one household's rows)."""
    return frame.take([i for i, name in enumerate(frame.columns) if name not in columns], axis=1)


# Up to this many members (one household's, an API request) valid IDs are pseudonymised cell by cell: the same
# result as the vectorised path, whose fixed cost (Arrow kernels, Series assignments) outweighs the work on a
# single household's IDs.
_SMALL_ROWS: Final = 64


def _pseudonymise_few(ids: list[object], members: pd.DataFrame, key: PseudonymKey) -> pd.DataFrame | None:
    """`_pseudonymise_members` for a few members with at least one ID, all valid; None otherwise (the
    vectorised path then reports every invalid ID, or keeps the table when there is no ID)."""
    if all(value is pd.NA for value in ids):
        return None
    if not all(value is pd.NA or (isinstance(value, str) and valid_id_number(value)) for value in ids):
        return None
    pseudonyms = [None if value is pd.NA else pseudonym(str(value), key) for value in ids]
    versions = [None if value is pd.NA else key.version for value in ids]
    columns = column_arrays(members)
    del columns["id_number"]
    if "person_pseudonym" in columns:  # rows without an ID keep an earlier ingestion's pseudonym
        pseudonyms = _filled(pseudonyms, members["person_pseudonym"])
        versions = _filled(versions, members["pseudonym_key_version"])
    columns["person_pseudonym"] = text_array(pseudonyms, "string")
    columns["pseudonym_key_version"] = text_array(versions, "string")
    return frame_of(columns, members.index)  # built once: each column assignment would copy the frame's blocks


def _filled(values: list[str | None], earlier: pd.Series) -> list[str | None]:
    return [e if v is None and e is not pd.NA else v for v, e in zip(values, earlier.tolist(), strict=True)]


def _id_violations(members: pd.DataFrame, malformed: np.ndarray, bad_checksum: np.ndarray) -> list[Violation]:
    """Every invalid ID with its row and member_id; the ID itself is never repeated back."""
    violations = []
    for mask, reason in ((malformed, Reason.PATTERN), (bad_checksum, Reason.ID_CHECKSUM)):
        for position in np.flatnonzero(mask):
            member_id = members["member_id"].iloc[position]
            row_key = "?" if pd.isna(member_id) else str(member_id)
            violations.append(Violation("members", row_key, "id_number", reason.value, WITHHELD, int(position) + 1))
    return sorted(violations, key=lambda v: v.row or 0)


def load_sources(
    path: Path | str, key: PseudonymKey | None = None, *, max_per_kind: int = DEFAULT_MAX_PER_KIND
) -> Sources:
    """Read, validate (raising `SourceDataError` with every violation) and ingest a source folder.

    `key` defaults to the configured one (`features.pseudonyms.keys.load_key`); it is only needed when the
    folder still holds ID numbers.
    """
    sources = read_sources(path)
    report = validate_sources(sources, max_per_kind=max_per_kind)
    if not report.ok:
        raise SourceDataError(
            f"{report.total} contract violations in {path}; nothing was loaded", report.violations, report.total
        )
    if key is None and sources["members"]["id_number"].notna().any():
        key = load_key()
    return ingest(sources, key)
