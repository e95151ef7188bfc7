"""The feature-spec file: how a profile table is typed, so that any team can bring its own profiles.

A data scientist whose source systems differ from our contract can skip `build_profiles`, build a profile
table their own way (CSV or Parquet, one row per household and reference date) and describe its columns
in a YAML feature spec; training reads the table through `apply_feature_spec`. Our own spec is generated
from the catalogue (`catalogue_spec`). The format is documented in docs/profiles.md.

    version: 1
    id_columns: [household_id, as_of]
    features:
      - name: hospital_oop_12m_yuan
        type: number            # number | count | flag | category
        group: illness          # a catalogue group (risk type) or any name of your own
        description: out-of-pocket hospital cost in the last 12 months
        unit: yuan              # optional
        direction: 1            # optional monotone direction: 1, -1 or 0
        parse: {missing: ["", "NA"]}             # cells that mean "missing"
      - name: village_type
        type: category
        parse: {categories: [former_poor, key_assisted, general]}
      - name: housing_unsafe
        type: flag
        parse: {true: ["1", "true", "是"], false: ["0", "false", "否"]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, cast

import numpy as np
import pandas as pd
import yaml

from features.profiles._value_maps import ValueMapError, as_float, check_value_map, map_values
from features.profiles.catalogue import FEATURES, GROUPS, Feature

SpecType = Literal["number", "count", "flag", "category"]
TYPES: Final[tuple[str, ...]] = ("number", "count", "flag", "category")
SPEC_VERSION: Final = 1
DEFAULT_MISSING: Final[tuple[str, ...]] = ("", "NA", "NaN", "nan", "null", "None")
DEFAULT_TRUE: Final[tuple[str, ...]] = ("1", "1.0", "true", "True", "TRUE", "yes", "是")
DEFAULT_FALSE: Final[tuple[str, ...]] = ("0", "0.0", "false", "False", "FALSE", "no", "否")
SPEC_KEYS: Final = ("version", "id_columns", "features")
ENTRY_KEYS: Final = ("name", "type", "group", "description", "unit", "direction", "parse", "values")
PARSE_KEYS: Final = ("missing", "true", "false", "categories")


class FeatureSpecError(ValueError):
    """A feature spec or a profile table does not fit; the message names the field (and row)."""


@dataclass(frozen=True)
class FeatureSpecEntry:
    name: str
    type: SpecType
    group: str = ""
    description: str = ""
    unit: str | None = None
    direction: int = 0
    parse: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)  # cell text → value or None (_value_maps)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "group": self.group}
        out["description"] = self.description
        if self.unit:
            out["unit"] = self.unit
        if self.direction:
            out["direction"] = self.direction
        if self.parse:
            out["parse"] = self.parse
        if self.values:
            out["values"] = self.values
        return out


@dataclass(frozen=True)
class FeatureSpec:
    features: tuple[FeatureSpecEntry, ...]
    id_columns: tuple[str, ...] = ("household_id", "as_of")
    version: int = SPEC_VERSION

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)


def catalogue_spec() -> FeatureSpec:
    """The spec of the profile tables that `features.profiles.build.build_profiles` writes."""
    return FeatureSpec(tuple(_entry(f) for f in FEATURES))


def _entry(item: Feature) -> FeatureSpecEntry:
    parse: dict[str, Any] = {"categories": list(item.categories)} if item.kind == "category" else {}
    return FeatureSpecEntry(item.name, item.kind, item.group, item.en, item.unit, item.direction, parse)


def write_feature_spec(spec: FeatureSpec, path: Path | str) -> Path:
    path = Path(path)
    document = {
        "version": spec.version,
        "id_columns": list(spec.id_columns),
        "features": [f.to_dict() for f in spec.features],
    }
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class _SpecLoader(yaml.SafeLoader):
    """YAML without YAML 1.1's booleans: in a spec, `yes`, `no`, `true` and `on` are cell text a map or a flag
    list names (`values: {yes: 1, no: 0}`), and no field of the spec is a boolean."""


_SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_feature_spec(path: Path | str) -> FeatureSpec:
    """Read and check a spec file; errors name the entry and field at fault."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FeatureSpecError(f"{path}: cannot read the spec file ({_reason(error)})") from error
    try:
        document = yaml.load(text, Loader=_SpecLoader)  # noqa: S506 - a SafeLoader without booleans
    except yaml.YAMLError as error:
        raise FeatureSpecError(f"{path}: not valid YAML: {' '.join(str(error).split())}") from error
    if not isinstance(document, dict):
        raise FeatureSpecError(f"{path}: expected a mapping with a 'features' list")
    return parse_feature_spec(document)


def _reason(error: Exception) -> str:
    return error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__


def _unknown_keys(where: str, given: dict[str, Any], known: tuple[str, ...]) -> None:
    unknown = [str(k) for k in given if k not in known]
    if unknown:
        raise FeatureSpecError(f"{where}: unknown key {unknown[0]!r}; expected one of {', '.join(known)}")


def parse_feature_spec(document: dict[str, Any]) -> FeatureSpec:
    _unknown_keys("spec", document, SPEC_KEYS)
    version = document.get("version", SPEC_VERSION)
    if version != SPEC_VERSION:
        raise FeatureSpecError(f"version: {version!r} is not supported (expected {SPEC_VERSION})")
    raw = document.get("features")
    if not isinstance(raw, list) or not raw:
        raise FeatureSpecError("features: expected a non-empty list")
    entries = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"features[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise FeatureSpecError(f"{where}.name: required text")
        name = item["name"]
        _unknown_keys(f"{where} ({name})", item, ENTRY_KEYS)
        if name in seen:
            raise FeatureSpecError(f"{where}.name: {name!r} appears twice")
        seen.add(name)
        kind = item.get("type")
        if kind not in TYPES:
            raise FeatureSpecError(f"{where}.type ({name}): {kind!r} is not one of {', '.join(TYPES)}")
        direction = item.get("direction", 0)
        if direction not in (-1, 0, 1):
            raise FeatureSpecError(f"{where}.direction ({name}): {direction!r} is not -1, 0 or 1")
        parse = item.get("parse") or {}
        if not isinstance(parse, dict):
            raise FeatureSpecError(f"{where}.parse ({name}): expected a mapping")
        _unknown_keys(f"{where}.parse ({name})", parse, PARSE_KEYS)
        if kind == "category" and not parse.get("categories"):
            raise FeatureSpecError(f"{where}.parse.categories ({name}): a category needs its list of values")
        try:
            values = check_value_map(
                where, name, kind, item.get("values"), [str(c) for c in parse.get("categories", ())]
            )
        except ValueMapError as error:
            raise FeatureSpecError(str(error)) from error
        entries.append(
            FeatureSpecEntry(
                name,
                cast(SpecType, kind),
                str(item.get("group", "")),
                str(item.get("description", "")),
                item.get("unit"),
                int(direction),
                parse,
                values,
            )
        )
    # No id columns unless the spec names them: a default would name columns the user never wrote.
    ids = document.get("id_columns") or ()
    if not isinstance(ids, list | tuple) or not all(isinstance(c, str) for c in ids):
        raise FeatureSpecError("id_columns: expected a list of column names")
    ids = tuple(ids)
    return FeatureSpec(tuple(entries), ids, SPEC_VERSION)


def apply_feature_spec(frame: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """The id columns and the spec's features, typed as the spec says (counts int64 or float64 if missing).

    Cells in `parse.missing` become missing; any other cell that does not parse raises FeatureSpecError
    naming the column and the first bad row.
    """
    absent = [c for c in (*spec.id_columns, *spec.names) if c not in frame.columns]
    if absent:
        raise FeatureSpecError(f"profile table lacks columns: {', '.join(absent)}")
    out: dict[str, Any] = {c: frame[c].reset_index(drop=True) for c in spec.id_columns}
    for entry in spec.features:
        out[entry.name] = _parse_column(frame[entry.name].reset_index(drop=True), entry)
    return pd.DataFrame(out)


def _parse_column(values: pd.Series, entry: FeatureSpecEntry) -> pd.Series:
    missing = set(entry.parse.get("missing", DEFAULT_MISSING))
    text = values.astype(object).where(values.notna(), None)
    hit, mapped = map_values(text, entry.values)
    is_missing = text.map(lambda v: v is None or (isinstance(v, str) and v.strip() in missing)).astype(bool)
    is_missing = (is_missing & ~hit) | (hit & mapped.isna())
    text = text.where(~hit, None)  # a mapped cell is not read again
    if entry.type == "category":
        categories = [str(c) for c in entry.parse["categories"]]
        cleaned = text.map(lambda v: None if v is None else str(v).strip()).where(~is_missing & ~hit, None)
        bad = cleaned.notna() & ~cleaned.isin(categories)
        cleaned = cleaned.where(~hit, mapped)
        parsed = pd.Series(pd.Categorical(cleaned.where(~bad, None), categories=categories))
    elif entry.type == "flag":
        true = {str(v) for v in entry.parse.get("true", DEFAULT_TRUE)}
        false = {str(v) for v in entry.parse.get("false", DEFAULT_FALSE)}
        keys = text.map(lambda v: None if v is None else str(v).strip())
        parsed = keys.map(lambda v: 1.0 if v in true else (0.0 if v in false else np.nan)).astype(float)
        parsed[is_missing] = np.nan
        bad = parsed.isna() & ~is_missing & ~hit
        parsed = parsed.where(~hit, as_float(mapped))
    else:
        parsed = pd.to_numeric(text.where(~is_missing, None), errors="coerce").astype(float)
        bad = parsed.isna() & ~is_missing & ~hit
        parsed = parsed.where(~hit, as_float(mapped))
        if entry.type == "count" and not bad.any():
            whole = parsed.dropna()
            if (whole != np.round(whole)).any() or (whole < 0).any():
                row = int(whole.index[((whole != np.round(whole)) | (whole < 0)).to_numpy()][0])
                raise FeatureSpecError(f"{entry.name}, row {row}: a count must be a whole number ≥ 0")
            if not parsed.isna().any():
                parsed = parsed.astype(np.int64)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise FeatureSpecError(
            f"{entry.name}, row {row}: cannot read {values.iloc[row]!r} as a {entry.type}{_unmapped_hint(entry)}"
        )
    return parsed


def _unmapped_hint(entry: FeatureSpecEntry) -> str:
    """How to fix an unreadable cell: the column's map, or where to add one."""
    if entry.values:
        return f", and it is not one of the column's values ({', '.join(map(repr, entry.values))})"
    return "; map it to a value or null under the column's `values:` in the spec"


def known_groups() -> tuple[str, ...]:
    """The catalogue's groups; a spec may also use groups of its own."""
    return tuple(GROUPS)
