"""One partition scored: source partition → profiles → calibrated scores → reasons, measures, what-if.

`score_partition` is the unit of work: one partition's Arrow tables (`features.reading.partitions`) are validated,
pseudonymised (`features.pseudonyms.ingestion.ingest`), turned into profiles as of the reference date
(`features.profiles.build.build_profiles`, the function training and the API use) and explained
(`models.batch.explain_batch`). It is a plain function of its inputs, so a process pool or a Dask worker
(`scoring.cluster`) runs it as it is and gets bitwise the same table.

Rows of an earlier result with the same model version and profile hash are reused (`scoring.reuse`). With a
`cache_dir`, the explanation cache (`models.explanation_cache`) also keeps SHAP values by (model version,
profile hash) — opt-in, since it stores 800 bytes a household and version and the result file already
serves unchanged households.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from features.errors import SourceDataError
from features.profiles.build import build_profiles
from features.profiles.monitoring_type import expected_types
from features.profiles.readiness import elimination_readiness
from features.profiles.rules import RULE_NAMES, rule_flags
from features.profiles.status import status_frame
from features.pseudonyms.ingestion import ingest
from features.reading.partitions import arrow_sources
from features.validation.report import validate_sources
from models.batch import ID_COLUMNS, explain_batch, output_columns
from models.explanation_cache import ExplanationCache
from models.record import (
    EXPECTED_TYPE_FIELDS,
    READINESS_FIELDS,
    flat_expected_type,
    flat_readiness,
    nested_expected_type,
)
from scoring.job import ScoringJob
from scoring.results import RULE_PREFIX, result_frame
from scoring.reuse import profile_rows


class PartitionError(SourceDataError):
    """A partition's source rows break the contract; names the partition and the first violations."""


def score_partition(
    job: ScoringJob,
    tables: dict[str, pa.Table],
    manifest: dict[str, Any] | None = None,
    previous: pd.DataFrame | None = None,
    label: str = "",
) -> pd.DataFrame:
    """One partition's result table, in the partition's household order (module docstring)."""
    job = job.with_explainer()
    sources = arrow_sources(tables, manifest)
    report = validate_sources(sources, max_per_kind=5)
    if not report.ok:
        first = "; ".join(f"{v.table}.{v.column} of {v.row_key}: {v.reason}" for v in report.violations[:3])
        raise PartitionError(
            f"partition {label}: {report.total} contract violations, e.g. {first}; "
            "`relapse validate` lists them with their file rows",
            report.violations,
            report.total,
        )
    profiles = build_profiles(ingest(sources, job.key), job.as_of)
    return score_profiles(job, profiles, previous)


def score_profiles(job: ScoringJob, profiles: pd.DataFrame, previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """Result rows for built profiles; rows of `previous` (same version and options) reused by profile hash."""
    job = job.with_explainer()
    profiles = profiles.reset_index(drop=True)
    cache = ExplanationCache(job.cache_dir) if job.cache_dir is not None else None
    at = profile_rows(job, profiles, previous)  # each profile's row in `previous` (−1: none)
    fresh_rows = np.arange(len(profiles)) if at is None else np.flatnonzero(at < 0)
    parts = []
    if at is not None and previous is not None and len(fresh_rows) < len(profiles):
        kept = np.flatnonzero(at >= 0)
        old = previous.iloc[at[kept]][output_columns(job.options)]
        parts.append(old.set_axis(kept))
    if len(fresh_rows):
        fresh = explain_batch(
            job.model,
            profiles.iloc[fresh_rows],
            options=job.options,
            explainer=job.explainer,
            cache=cache,
            model_version=job.model_version,
        )
        parts.append(fresh.set_axis(fresh_rows))
    table = result_frame(pd.concat(parts).sort_index() if len(parts) > 1 else parts[0], job.options, partial=True)
    for name in ID_COLUMNS:  # the profiles' own (the earlier run may predate a household's move)
        table[name] = profiles[name].to_numpy()
    table = table.reset_index(drop=True)
    table["model_version"] = job.model_version
    table["synthetic"] = job.synthetic
    status = status_frame(profiles)
    for column in status.columns:  # the profiles' own: a reused row may be another household's
        table[column] = status[column].to_numpy()
    codes = expected_types(profiles)
    cells = {code: flat_expected_type(nested_expected_type(code)) for code in set(codes.tolist())}  # a few types
    for column in EXPECTED_TYPE_FIELDS:  # from the profiles too, for the same reason
        table[column] = np.array([cells[code][column] for code in codes.tolist()], dtype=object)
    readiness = [flat_readiness(nested) for nested in elimination_readiness(profiles)]
    for column in READINESS_FIELDS:  # monitoring objects only; the other rows stay empty
        table[column] = np.array([row[column] for row in readiness], dtype=object)
    flags = rule_flags(profiles)
    for name in RULE_NAMES:
        table[RULE_PREFIX + name] = flags[name].to_numpy()
    table["source_digest"] = None  # set by score_partitions when the sources were read with digests
    return result_frame(table, job.options)
