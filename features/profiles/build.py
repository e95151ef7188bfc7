"""Point-in-time household profiles: one row per household as of a reference date.

`build_profiles(sources, as_of)` reads only rows whose time column is strictly before `as_of`
(docs/architecture.md, non-negotiable 1), computes ages at `as_of` and windows back from it, and returns exactly
the columns of `features.profiles.catalogue` after the meta columns. The same function serves a million households
in a batch and one household in the API (`build_profile`): there is no second code path to drift apart.

The population is the `households` table: every household gets a row, also without any other record.
Missing source values stay missing (NaN); each feature's catalogue entry says what missing means.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray
from pandas.api.internals import create_dataframe_from_blocks

from features.contract.monitoring_lines import YearProvinceTable, default_monitoring_lines
from features.contract.tables import HOUSEHOLD_TABLES
from features.profiles._assistance import assistance_features
from features.profiles._civil_affairs import civil_affairs_flags, held_either
from features.profiles._context import Columns, Context, table
from features.profiles._events import event_features
from features.profiles._income import income_features, per_capita_net_income
from features.profiles._keys import KeyIndex
from features.profiles._living import housing_features, place_features
from features.profiles._members import member_features
from features.profiles._monitoring import monitoring_features, monitoring_status_columns
from features.profiles._shocks import shock_features
from features.profiles.catalogue import FEATURES, META_COLUMNS, Feature
from features.reading.frames import column_block, column_index, text_array
from features.reading.sources import Sources

Progress = Callable[[str, int, int], None]
SourcesLike = Sources | Mapping[str, pd.DataFrame]

STEPS = ("members", "income", "events", "assistance", "monitoring history", "living conditions", "assemble")


class ProfileError(ValueError):
    """The sources cannot be profiled (e.g. duplicate household ids)."""


def build_profiles(
    sources: SourcesLike,
    as_of: date | str | pd.Timestamp,
    *,
    lines: YearProvinceTable | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Profiles of every household in `sources["households"]` as of `as_of` (see the module docstring)."""
    report = progress or (lambda *_: None)
    as_of = as_of_timestamp(as_of)
    lines = lines or default_monitoring_lines()
    households = table(sources, "households")
    ids = households["household_id"]
    if ids.duplicated().any():
        raise ProfileError(f"duplicate household_id: {ids[ids.duplicated()].iloc[0]!r}")
    ctx = Context(as_of, KeyIndex(ids))
    events = table(sources, "events")
    columns: Columns = {}

    report(STEPS[0], 0, len(STEPS))
    member_columns, members = member_features(ctx, table(sources, "members"), table(sources, "member_status"), events)
    columns.update(member_columns)
    report(STEPS[1], 1, len(STEPS))
    place, place_meta = place_features(ctx, households, table(sources, "villages"))
    meta: dict[str, pd.Series | np.ndarray | ExtensionArray] = dict(place_meta)
    provinces = place_meta["province_code"].to_numpy(dtype=object)
    income, income_meta = income_features(ctx, table(sources, "income"), provinces, lines)
    columns.update(income)
    report(STEPS[2], 2, len(STEPS))
    columns.update(event_features(ctx, events))
    columns.update(shock_features(columns, income_meta))
    report(STEPS[3], 3, len(STEPS))
    columns.update(assistance_features(ctx, table(sources, "assistance")))
    civil = civil_affairs_flags(ctx, table(sources, "civil_affairs"), _delivers(sources, "civil_affairs"))
    # 低保 and 特困 are the same decision whether a deployment records it as a spell or as a category.
    columns["dibao_active"] = held_either(columns["dibao_active"], civil.pop("civil_dibao"))
    columns["tekun_active"] = held_either(columns["tekun_active"], civil.pop("civil_tekun"))
    columns.update(civil)
    report(STEPS[4], 4, len(STEPS))
    identifications = table(sources, "identifications")
    columns.update(monitoring_features(ctx, households, identifications))
    status = monitoring_status_columns(ctx, identifications)
    # Text as pandas' `str` whatever it holds (all missing included), so one household's frame types as a city's.
    meta |= {name: v if v.dtype.kind == "M" else text_array(v) for name, v in status.items()}
    report(STEPS[5], 5, len(STEPS))
    columns.update(housing_features(ctx, table(sources, "housing_checks"), table(sources, "water_checks"), members))
    columns.update(place)
    report(STEPS[6], 6, len(STEPS))
    frame = _assemble(ids, as_of, meta, income_meta, columns)
    report("done", len(STEPS), len(STEPS))
    return frame


def build_profile(
    sources: SourcesLike, as_of: date | str | pd.Timestamp, *, lines: YearProvinceTable | None = None
) -> pd.DataFrame:
    """The one-row profile of the single household in `sources` (the API path; same code as the batch)."""
    count = len(table(sources, "households"))
    if count != 1:
        raise ProfileError(f"build_profile expects the records of one household, got {count} households")
    return build_profiles(sources, as_of, lines=lines)


def select_households(sources: SourcesLike, household_ids: Iterable[str]) -> Sources:
    """The records of the given households only; villages (reference data) are kept whole."""
    wanted = pd.Index(list(household_ids))
    tables: dict[str, pd.DataFrame] = {}
    for name in HOUSEHOLD_TABLES:
        if name != "households" and not _delivers(sources, name):
            continue  # an absent table stays absent: it may mean "not observed" (civil_affairs)
        frame = table(sources, name)
        tables[name] = frame[frame["household_id"].isin(wanted)].reset_index(drop=True)
    status = table(sources, "member_status")
    members = tables.get("members", table(sources, "members"))
    tables["member_status"] = status[status["member_id"].isin(members["member_id"])].reset_index(drop=True)
    tables["villages"] = table(sources, "villages")
    manifest = dict(sources.manifest) if isinstance(sources, Sources) else {}
    return Sources(tables, manifest)


def _delivers(sources: SourcesLike, name: str) -> bool:
    """Whether the sources hold the table at all (an empty one included): absent means not observed."""
    return name in (sources.tables if isinstance(sources, Sources) else sources)


def source_table(sources: SourcesLike, name: str) -> pd.DataFrame:
    """A source table, or an empty one with the contract's columns when `sources` lacks it."""
    return table(sources, name)


__all__ = [
    "ProfileError",
    "as_of_timestamp",
    "build_profile",
    "build_profiles",
    "feature_dtype",
    "per_capita_net_income",
    "select_households",
    "source_table",
]


def as_of_timestamp(as_of: date | str | pd.Timestamp) -> pd.Timestamp:
    """A reference date as a midnight timestamp; times of day are not allowed (records are dated by day)."""
    stamp = pd.Timestamp(as_of)
    if stamp.tz is not None or stamp != stamp.normalize():
        raise ProfileError(f"as_of must be a calendar date, got {as_of!r}")
    return stamp


def feature_dtype(item: Feature) -> object:
    """The dtype of a feature column: counts int64, categories with the code list, the rest float64."""
    if item.kind == "count":
        return np.dtype(np.int64)
    if item.kind == "category":
        return _category_dtype(item)
    return np.dtype(np.float64)


def _assemble(
    ids: pd.Series,
    as_of: pd.Timestamp,
    meta: dict[str, pd.Series | np.ndarray | ExtensionArray],
    income_meta: Columns,
    columns: Columns,
) -> pd.DataFrame:
    expected = {f.name for f in FEATURES}
    if set(columns) != expected:
        missing, extra = sorted(expected - set(columns)), sorted(set(columns) - expected)
        raise AssertionError(f"profile columns differ from the catalogue: missing {missing}, extra {extra}")
    n = len(ids)
    order = [*META_COLUMNS, *(f.name for f in FEATURES)]
    where = {name: i for i, name in enumerate(order)}
    # The frame is assembled from one 2-D block per dtype (features × households, each column contiguous)
    # placed straight into catalogue order: no per-column pandas objects and no reordering copy. That is
    # most of the cost of a one-household profile, and it saves a copy of the whole table in a batch.
    blocks: list[tuple[Any, np.ndarray]] = []
    for name, values in (("household_id", ids), *meta.items()):
        blocks.append((column_block(values), np.array([where[name]])))  # a block ignores the Series' index
    stamp = np.full((1, n), as_of.to_datetime64()).astype("datetime64[ns]")
    blocks.append((stamp, np.array([where["as_of"]])))
    numeric: list[tuple[list[str], Columns, type[np.generic]]] = [(list(income_meta), income_meta, np.float64)]
    for kinds, kind_dtype in ((("number", "flag"), np.float64), (("count",), np.int64)):
        numeric.append(([f.name for f in FEATURES if f.kind in kinds], columns, kind_dtype))
    for names, source, block_dtype in numeric:
        block = np.empty((len(names), n), dtype=block_dtype)
        for row, name in enumerate(names):
            block[row] = source.pop(name)  # released as soon as copied: a lower peak in big batches
        blocks.append((block, np.array([where[name] for name in names])))
    for item in FEATURES:
        if item.kind == "category":
            codes = columns.pop(item.name).astype(np.int64)
            blocks.append((pd.Categorical.from_codes(codes, dtype=_category_dtype(item)), np.array([where[item.name]])))
    return create_dataframe_from_blocks(blocks, pd.RangeIndex(n), column_index(tuple(order)))


@cache
def _category_dtype(item: Feature) -> pd.CategoricalDtype:
    # Built once: constructing a CategoricalDtype validates its categories, a cost per one-household profile.
    return pd.CategoricalDtype(list(item.categories))
