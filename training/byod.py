"""Bring your own data: a household profile table plus a YAML feature spec → `TrainingData`.

Real survey files are messy (numbers mixed with "yes"/"no", empty strings, codes stored as text), so a CSV is
read with every cell as text and nothing is guessed: the spec (docs/profiles.md) says how each feature column
is parsed, and a cell that does not parse is an error naming the column, the row and the value. Rows are
counted from 0 over the data rows (the header is not a row); for a CSV the message also gives the file line.

The label and the time column are parsed here. With a time column the usual time-based split applies (train on
earlier dates, validate on the second latest, test on the latest), purged by the label's horizon when the user
gives one (`--horizon`). Without one, the rows are split 60/20/20 at
random, stratified by label, and the folds are marked with pseudo `as_of` dates so that `TimeSplit` and the
rest of the pipeline work unchanged; a note in `TrainingData.notes` (logged as the run's `notes` tag) says so.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from pyarrow import ArrowException

from features.profiles.spec import FeatureSpecError, apply_feature_spec, read_feature_spec
from models.risk_model import FeatureSpec
from training.pipeline import TrainingData
from training.split import latest_split

LABEL_TRUE: Final = frozenset({"1", "1.0", "true", "yes", "y", "是"})
LABEL_FALSE: Final = frozenset({"0", "0.0", "false", "no", "n", "否"})
RESERVED: Final = ("household_id", "as_of", "label")  # columns of the snapshots the pipeline reads

# Pseudo reference dates marking the folds of the random split. They are far from any survey date on purpose:
# someone reading the fingerprint or the model card should not mistake them for real time.
FOLD_DATES: Final = (pd.Timestamp("1900-01-01"), pd.Timestamp("1900-01-02"), pd.Timestamp("1900-01-03"))
FOLD_SHARES: Final = (0.6, 0.2, 0.2)

_YEAR = re.compile(r"^\d{4}(\.0+)?$")
_SPEC_ROW = re.compile(r"^(?P<column>.+?), row (?P<row>\d+): (?P<rest>.*)$", re.DOTALL)


class ProfileTableError(FeatureSpecError):
    """A profile table does not fit its spec or the command's options; the message names column, row and value."""


def data_from_profile_table(
    path: Path | str,
    spec_path: Path | str,
    label: str,
    time: str | None,
    groups: list[str],
    *,
    seed: int = 42,
    horizon_months: int = 0,
) -> TrainingData:
    """Read a profile table (CSV or Parquet) described by a feature spec into training data.

    `label` names the outcome column (0/1, true/false, yes/no, 是/否), `time` the column of reference dates or
    years (None: stratified random split, seeded by `seed`), `groups` the columns to report fairness by.
    `horizon_months` is how far the label looks ahead of its row's date ("identified within 12 months": 12): the
    split then purges overlapping label windows as for the demo city (training.split), so that no training label
    looks into the validation or test period. 0 takes the periods as consecutive, with a note saying so.
    """
    if horizon_months and time is None:
        raise ProfileTableError("--horizon needs --time: without dates there are no label windows to separate")
    path = Path(path)
    spec = read_feature_spec(spec_path)
    frame = read_profile_table(path)
    _check_columns(frame, spec.names, spec.id_columns, label, time, groups)

    # The id columns are handled here (household id, time), so the spec is applied to the features only.
    try:
        parsed = apply_feature_spec(frame, replace(spec, id_columns=()))
    except FeatureSpecError as error:
        raise _with_row_details(error, frame, path) from error

    snapshots = parsed.copy()
    snapshots.insert(0, "household_id", household_ids(frame, [c for c in spec.id_columns if c != time]))
    snapshots["label"] = parse_label(frame[label], label, path)
    notes: list[str] = []
    if time is not None:
        snapshots.insert(1, "as_of", parse_time(frame[time], time, path))
        dates = pd.Series(snapshots["as_of"].dropna().unique()).sort_values()
        if not horizon_months and (dates.diff().dt.days < 365).any():
            notes.append(
                "no --horizon, and reference dates less than a year apart: the periods are taken as consecutive "
                "and nothing is purged "
                "between training, validation and test. If the label looks ahead of its row's date (e.g. "
                "'within 12 months'), give --horizon 12, or the test figures count labels the training rows "
                "already saw."
            )
    else:
        if snapshots["household_id"].duplicated().any():
            repeated = snapshots.loc[snapshots["household_id"].duplicated(), "household_id"].iloc[0]
            raise ProfileTableError(
                f"household {repeated!r} appears in several rows but there is no time column: a random split "
                "would put the same household in training and test; give --time"
            )
        snapshots.insert(1, "as_of", stratified_folds(snapshots["label"].to_numpy(), seed))
        notes.append(
            f"no time column: stratified random split by label (train/valid/test "
            f"{'/'.join(str(round(s * 100)) for s in FOLD_SHARES)}, seed {seed}); the folds are marked with "
            f"pseudo as_of dates {', '.join(str(d.date()) for d in FOLD_DATES)}. Figures describe households "
            "like the training ones, not the future."
        )
    _check_split(snapshots, horizon_months)

    features = tuple(
        FeatureSpec(e.name, e.type, e.direction, tuple(str(c) for c in e.parse.get("categories", ())))
        for e in spec.features
    )
    return TrainingData(
        snapshots=snapshots,
        features=features,
        groups=pd.DataFrame({g: _group_values(frame[g]) for g in groups}, index=snapshots.index),
        rules=None,  # no official-rule baseline for foreign data: the evaluation compares with random visits
        label=label,
        synthetic=False,
        catalogue_version=None,
        feature_groups={e.name: e.group or "ungrouped" for e in spec.features},
        notes=notes,
        horizon_months=horizon_months,
        random_split=time is None,
    )


def read_profile_table(path: Path) -> pd.DataFrame:
    """Every CSV cell as text (empty stays ""), so that the spec, not pandas, decides what a cell means.

    Pandas' own inference would turn the code "0301" into 301 and "NA" into a float before the spec sees it.
    Chinese spreadsheets are often saved as GBK, so a CSV that is not UTF-8 is read as GB 18030 (its superset).
    """
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv", ".txt"):
        raise ProfileTableError(f"{path.name}: expected a .csv or .parquet file")
    if not path.is_file():
        raise ProfileTableError(f"{path}: no such file")
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path).reset_index(drop=True)
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("gb18030")
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError, ArrowException) as error:
        # The reader's own words say where (a line, a byte); the traceback would add nothing a user can act on.
        reason = " ".join(str(error).split()) or type(error).__name__
        raise ProfileTableError(f"{path.name}: cannot be read as {suffix.lstrip('.')}: {reason}") from error


def parse_label(values: pd.Series, column: str, path: Path | None = None) -> pd.Series:
    """1/0 from 0/1, true/false, yes/no, 是/否 (any case, surrounding spaces ignored); anything else is an error."""
    keys = values.astype(object).map(lambda v: "" if _is_missing(v) else str(v).strip().lower())
    parsed = keys.map(lambda k: 1 if k in LABEL_TRUE else (0 if k in LABEL_FALSE else -1)).to_numpy(int)
    bad = np.flatnonzero(parsed < 0)
    if len(bad):
        row = int(bad[0])
        raise ProfileTableError(_cell_message(column, row, values.iloc[row], "a 0/1 label", path))
    return pd.Series(parsed.astype(np.int8), index=values.index, name="label")


def parse_time(values: pd.Series, column: str, path: Path | None = None) -> pd.Series:
    """Reference dates: a year (2021 → 2021-01-01) or a date in any unambiguous format (2021-06-30, 2021/6/30)."""
    cache: dict[Any, pd.Timestamp | None] = {}
    out = []
    for row, value in enumerate(values.tolist()):
        if value not in cache:
            cache[value] = _timestamp(value)
        stamp = cache[value]
        if stamp is None:
            raise ProfileTableError(_cell_message(column, row, value, "a date or a year", path))
        out.append(stamp)
    return pd.Series(pd.DatetimeIndex(out).as_unit("ns"), index=values.index, name="as_of")


def household_ids(frame: pd.DataFrame, id_columns: list[str]) -> pd.Series:
    """The spec's id columns as text (joined by "/" when there are several); the row number when there are none."""
    if not id_columns:
        return pd.Series([f"row-{i}" for i in range(len(frame))], index=frame.index, dtype="string")
    parts = [frame[c].astype("string").fillna("").str.strip() for c in id_columns]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "/" + part
    return joined.astype("string")


def stratified_folds(y: np.ndarray, seed: int) -> pd.Series:
    """Pseudo `as_of` per row: train/valid/test 60/20/20 within each label value, rows shuffled with `seed`."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=int)
    for value in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == value))
        cuts = np.round(np.cumsum(FOLD_SHARES)[:-1] * len(rows)).astype(int)
        for i, part in enumerate(np.split(rows, cuts)):
            fold[part] = i
    return pd.Series(np.asarray(FOLD_DATES, dtype="datetime64[ns]")[fold], name="as_of")


def _check_columns(
    frame: pd.DataFrame,
    features: tuple[str, ...],
    id_columns: tuple[str, ...],
    label: str,
    time: str | None,
    groups: list[str],
) -> None:
    named = {"--label": [label], "--time": [time] if time else [], "--group": groups, "spec id_columns": id_columns}
    for option, columns in named.items():
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            raise ProfileTableError(f"{option}: the profile table has no column {', '.join(map(repr, absent))}")
    if label in features:
        raise ProfileTableError(f"--label: {label!r} is also a feature in the spec; a model must not see its label")
    if time is not None and time in features:
        raise ProfileTableError(f"--time: {time!r} is also a feature in the spec; list it under id_columns instead")
    reserved = [f for f in features if f in RESERVED]
    if reserved:
        raise ProfileTableError(f"features: {', '.join(reserved)} are reserved names; rename the column(s)")


def _check_split(snapshots: pd.DataFrame, horizon_months: int) -> None:
    """The latest date is the test period, the one before validation: both need positives and negatives."""
    dates = snapshots["as_of"].nunique()
    if dates < 3:
        raise ProfileTableError(
            f"the time column has {dates} distinct reference date(s); a time-based split needs at least 3 "
            "(train, validation, test)"
        )
    try:
        split = latest_split(snapshots["as_of"], horizon_months)
    except ValueError as error:
        raise ProfileTableError(f"--horizon {horizon_months}: {error}") from None
    periods = split.describe()
    for name, key, mask in (
        ("training", "train", split.train_mask),
        ("validation", "valid", split.valid_mask),
        ("test", "test", split.test_mask),
    ):
        labels = snapshots.loc[mask(snapshots), "label"]
        if labels.nunique() < 2:
            raise ProfileTableError(
                f"the {name} period ({periods[key]}) has {len(labels)} rows, all with label "
                f"{int(labels.iloc[0])}: each period needs positives and negatives (use coarser reference dates, "
                "e.g. years)"
            )


def _with_row_details(error: FeatureSpecError, frame: pd.DataFrame, path: Path) -> FeatureSpecError:
    """Make sure a parsing error from the spec names the value and the file line too, not only column and row."""
    match = _SPEC_ROW.match(str(error))
    if match is None or match["column"] not in frame.columns:
        return error
    column, row, rest = match["column"], int(match["row"]), match["rest"]
    value = frame[column].iloc[row]
    if repr(value) not in rest:
        rest = f"{rest} (value {value!r})"
    return ProfileTableError(f"{column}, row {row}{_line(row, path)}: {rest}")


def _cell_message(column: str, row: int, value: object, what: str, path: Path | None) -> str:
    return f"{column}, row {row}{_line(row, path)}: cannot read {value!r} as {what}"


def _line(row: int, path: Path | None) -> str:
    # Line 1 of a CSV is the header; a data row's line is only meaningful for text files.
    return f" (line {row + 2} of {path.name})" if path is not None and path.suffix.lower() in (".csv", ".txt") else ""


def _timestamp(value: object) -> pd.Timestamp | None:
    if _is_missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value
    text = str(value).strip()
    if _YEAR.match(text):
        return pd.Timestamp(year=int(float(text)), month=1, day=1)
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        return None
    return None if pd.isna(stamp) else stamp.tz_localize(None) if stamp.tzinfo else stamp


def _group_values(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.mask(text == "").reset_index(drop=True)


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT
