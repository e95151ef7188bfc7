"""What-if: re-score a household as if a proposed measure were in place — a model estimate, not a causal effect.

A measure's declared effects (`models.measure_table`) change base quantities of the profile: a flag, a count,
an out-of-pocket cost, a yearly income component. The features derived from them are then recomputed the way
the profile builder defines them (features/profiles/_income.py), so that the changed profile stays consistent:

- household net income = income_pc_yuan × members_count (members floored at 1);
- added income raises income_pc_yuan, income_to_line, income_pc_after_medical_yuan and its ratio to the line,
  and income_pc_change_1y;
- lower out-of-pocket medical spending raises the income after medical costs; the cost-to-income ratios
  (oop_to_income_12m, disaster_loss_to_income_12m) follow their numerator and the household net income;
- a missing value stays missing (a household without an income record keeps its income features missing):
  unknown stays unknown.

Every feature a what-if changes carries a monotone constraint in the direction the measure acts (the catalogue's
`direction`; tests/models/test_whatif_direction.py checks each measure against it), and the calibrators are
non-decreasing, so a what-if never raises the household's estimate. Derived features that have no policy
direction — the income shares (wage, business, property, transfer, safety net) and the production-cost ratio —
are left at the household's value: recomputing them would carry a measure's what-if through a feature the model
may read either way. So are the 3-year trend and volatility. The re-scored probability is what the model says
about the changed profile; the model learned associations, not effects, so the difference is labelled
everywhere as a model estimate.
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from models.measure_table import Change, Effect, Income, Measure
from models.risk_model import RiskModel

LABEL_ZH = "模型估计，非因果效应"
LABEL_EN = "model estimate, not a causal effect"

# The floor the profile builder puts under household net income in ratios (features/profiles/_income.py);
# tests/models/test_whatif.py checks that the two agree.
INCOME_FLOOR_YUAN = 1_000.0


@dataclass(frozen=True)
class WhatIf:
    measure: str
    probability_before: float
    probability_after: float
    label_zh: str = LABEL_ZH
    label_en: str = LABEL_EN

    @property
    def points(self) -> float:
        """Change of the calibrated probability (negative: the model sees less risk)."""
        return self.probability_after - self.probability_before


def apply_effects(profiles: pd.DataFrame, effects: Sequence[Effect]) -> pd.DataFrame:
    """A copy of `profiles` with the effects applied to every row and derived features recomputed."""
    out = profiles.copy()
    for name, values in _effects(_FrameColumns(profiles), effects).items():
        out[name] = values
    return out


def apply_measure(profiles: pd.DataFrame, measure: Measure) -> pd.DataFrame:
    return apply_effects(profiles, measure.effects)


def what_if(model: RiskModel, profile: pd.DataFrame, measures: Sequence[Measure]) -> list[WhatIf]:
    """One re-score per measure for a one-row profile, against the profile's own calibrated probability."""
    if len(profile) != 1:
        raise ValueError(f"what_if expects one household's profile, got {len(profile)} rows")
    return what_if_batch(model, profile, [list(measures)])[0]


def what_if_batch(
    model: RiskModel,
    profiles: pd.DataFrame,
    measures: Sequence[Sequence[Measure]],
    before: np.ndarray | None = None,
) -> list[list[WhatIf]]:
    """Re-scores for many households at once: `measures[i]` are row i's measures, in its order.

    Rows sharing a measure are changed together, and everything is scored in one call to the model.
    `before` (the rows' calibrated probabilities) is computed when not given.
    """
    return what_if_prepared(model, profiles, model.prepare(profiles), measures, before)


def what_if_prepared(
    model: RiskModel,
    profiles: pd.DataFrame | Sequence[Mapping[str, Any]],
    x: np.ndarray,
    measures: Sequence[Sequence[Measure]],
    before: np.ndarray | None = None,
) -> list[list[WhatIf]]:
    """`what_if_batch` given the model's matrix of the profiles (`model.prepare(profiles)`), bitwise the same.

    The effects change only numeric model features, so each changed row is the prepared row with the changed
    columns replaced — the values `model.prepare` would give the changed profile — and no profile is copied.
    `profiles` may also be the rows themselves (`profiles.iloc[i]` as mappings, all with the same keys): the
    API scores one household per request, and a frame of one row costs more than the what-if arithmetic.
    """
    if len(measures) != len(profiles):
        raise ValueError("one list of measures per profile row is needed")
    p0 = model.predict_proba(x) if before is None else np.asarray(before, dtype=float)
    rows_by_code: dict[str, list[int]] = {}
    by_code: dict[str, Measure] = {}
    for i, items in enumerate(measures):
        for m in items:
            rows_by_code.setdefault(m.code, []).append(i)
            by_code[m.code] = m
    if not rows_by_code:
        return [[] for _ in measures]
    columns = _MatrixColumns(model, profiles, x)
    categories = {f.name for f in model.features if f.kind == "category"}
    changed: list[np.ndarray] = []
    keys: list[tuple[int, str]] = []
    for code in sorted(rows_by_code):
        rows = rows_by_code[code]
        written = _effects(columns.rows(rows), by_code[code].effects)
        if categories.intersection(written):  # a category changed: prepare it as `model.prepare` would
            chosen = profiles.iloc[rows] if isinstance(profiles, pd.DataFrame) else _frame([profiles[i] for i in rows])
            changed.append(model.prepare(apply_measure(chosen, by_code[code])))
            keys.extend((i, code) for i in rows)
            continue
        block = x[rows]
        for name, values in written.items():
            j = columns.position.get(name)
            if j is not None:
                block[:, j] = np.asarray(values, dtype=np.float64)
        changed.append(block)
        keys.extend((i, code) for i in rows)
    after = dict(zip(keys, model.predict_proba(np.concatenate(changed)), strict=True))
    return [
        [WhatIf(m.code, float(p0[i]), float(after[(i, m.code)])) for m in items] for i, items in enumerate(measures)
    ]


# --- internals ---------------------------------------------------------------------------------------
class _Columns:
    """Float64 columns of some profile rows, read as `_column` reads a frame (missing and unparsable → NaN).

    `_effects` reads the unchanged profile through one of these and the changed one through `_Changed`.
    """

    names: Container[str]
    length: int

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __len__(self) -> int:
        return self.length

    def get(self, name: str) -> np.ndarray:
        raise NotImplementedError


class _FrameColumns(_Columns):
    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame, self.names, self.length = frame, frame.columns, len(frame)

    def get(self, name: str) -> np.ndarray:
        return _column(self.frame, name)


class _MatrixColumns(_Columns):
    """Model features from the prepared matrix (prepare converts numeric columns exactly as `_column` does),
    other columns from the frame or rows; optionally restricted to some rows."""

    def __init__(self, model: RiskModel, frame: pd.DataFrame | Sequence[Mapping[str, Any]], x: np.ndarray) -> None:
        names = frame.columns if isinstance(frame, pd.DataFrame) else (frame[0].keys() if len(frame) else ())
        self.frame, self.x, self.names, self.length = frame, x, names, len(frame)
        self.position = {f.name: j for j, f in enumerate(model.features) if f.kind != "category"}
        self.selected: list[int] | None = None
        self._others: dict[str, np.ndarray] = {}

    def rows(self, rows: list[int]) -> _MatrixColumns:
        view = object.__new__(_MatrixColumns)
        view.__dict__.update(self.__dict__)
        view.selected, view.length = rows, len(rows)
        return view

    def get(self, name: str) -> np.ndarray:
        j = self.position.get(name)
        if j is not None:
            column = self.x[:, j]
        else:
            if name not in self._others:
                frame = self.frame
                self._others[name] = (
                    _column(frame, name) if isinstance(frame, pd.DataFrame) else _row_column(frame, name)
                )
            column = self._others[name]
        return column[self.selected] if self.selected is not None else column.copy()


class _Changed(_Columns):
    """The profile being changed: written columns as written, the rest as in `original`."""

    def __init__(self, original: _Columns) -> None:
        self.original, self.names, self.length = original, original.names, len(original)
        self.written: dict[str, np.ndarray] = {}

    def get(self, name: str) -> np.ndarray:
        if name in self.written:
            return np.asarray(self.written[name], dtype=np.float64)
        return self.original.get(name)

    def set(self, name: str, values: np.ndarray) -> None:
        self.written[name] = values


def _effects(original: _Columns, effects: Sequence[Effect]) -> dict[str, np.ndarray]:
    """The columns the effects change, with their new values (derived features recomputed)."""
    out = _Changed(original)
    before = _numbers(original, ("medical_oop_last_year_yuan", "hospital_oop_12m_yuan", "disaster_loss_12m_yuan"))
    for effect in effects:
        if isinstance(effect, Change):
            _change(out, effect)
    incomes = [e for e in effects if isinstance(e, Income)]
    _recompute_income(out, original, incomes, before)
    return out.written


def _numbers(columns: _Columns, names: Sequence[str]) -> dict[str, np.ndarray]:
    return {n: columns.get(n) for n in names if n in columns}


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(frame[name], errors="coerce").astype("float64").to_numpy(na_value=np.nan)


def _row_column(rows: Sequence[Mapping[str, Any]], name: str) -> np.ndarray:
    """`_column` of the frame whose rows are `rows`: numbers as floats, missing as NaN; other values (text,
    dates) converted by pandas as `_column` converts them."""
    out = np.empty(len(rows), dtype=np.float64)
    for i, row in enumerate(rows):
        value = row[name]
        if value is None or value is pd.NA or value is pd.NaT:
            out[i] = math.nan
        elif isinstance(value, int | float | np.integer | np.floating):  # bool is an int
            out[i] = float(value)
        else:
            out[i] = _column(pd.DataFrame({name: pd.Series([value], dtype=object)}), name)[0]
    return out


def _frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([row[name] for row in rows], dtype=object) for name in rows[0]})


def _change(out: _Changed, change: Change) -> None:
    if change.feature not in out:
        return  # a model without this feature: nothing to change
    value = out.get(change.feature)
    # A missing value stays missing: the model routes missing values by learned defaults, outside the order
    # its monotone constraints guarantee, so filling one in could move the estimate either way.
    if change.op == "set":
        new = np.where(np.isnan(value), value, change.value)
    elif change.op == "add":
        new = value + change.value
    elif change.op == "scale":
        new = value * change.value
    else:  # at_most
        new = np.where(np.isnan(value), value, np.minimum(value, change.value))
    out.set(change.feature, new)


def _recompute_income(
    out: _Changed, original: _Columns, incomes: Sequence[Income], before: dict[str, np.ndarray]
) -> None:
    n = len(out)
    members = np.fmax(_nan_to_num(original.get("members_count"), nan=1.0), 1.0)
    pc = original.get("income_pc_yuan")
    known = ~np.isnan(pc)
    net = np.where(known, pc * members, np.nan)

    added = {part: np.zeros(n) for part in ("wages", "business", "property", "transfers", "safety_net")}
    for income in incomes:
        factor = members if income.per == "member" else 1.0
        if income.per not in ("household", "member"):
            factor = _nan_to_num(original.get(income.per)) if income.per in original else 0.0
        amount = income.yuan * factor
        added[income.part] = added[income.part] + amount
        if income.part == "safety_net":
            added["transfers"] = added["transfers"] + amount  # dibao and tekun are transfers
    extra = np.where(known, added["wages"] + added["business"] + added["property"] + added["transfers"], 0.0)
    net_new = net + extra

    # Each derived feature moves by a non-negative increment added to the household's own value (never
    # recomputed from scratch): a row that gains nothing keeps its values bit for bit, and rounding can never
    # move a feature against the direction the measure acts.
    line = _line(original, pc)
    if extra.any():
        gained = extra / members
        out.set("income_pc_yuan", pc + gained)
        _to_line(out, original, "income_to_line", gained, line)
        if "income_pc_change_1y" in out:
            change = original.get("income_pc_change_1y")
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                previous = pc / (1.0 + change)
                out.set("income_pc_change_1y", np.where(previous > 0, change + gained / previous, change))
    # Income after compliant medical spending: more income, less out-of-pocket cost.
    if "income_pc_after_medical_yuan" in out:
        after = original.get("income_pc_after_medical_yuan")
        oop_before = before.get("medical_oop_last_year_yuan", np.zeros(n))
        oop_after = out.get("medical_oop_last_year_yuan") if "medical_oop_last_year_yuan" in out else oop_before
        saved = np.fmax(_nan_to_num(oop_before) - _nan_to_num(oop_after), 0.0)
        gained_after = extra / members + saved / members
        out.set("income_pc_after_medical_yuan", after + gained_after)
        _to_line(out, original, "income_after_medical_to_line", gained_after, line)
    # Ratios to household net income follow their numerator and the (floored) denominator: both factors are at
    # most 1, so their product is, and so is the ratio's change.
    floor_before = np.fmax(net, INCOME_FLOOR_YUAN)
    floor_after = np.fmax(net_new, INCOME_FLOOR_YUAN)
    with np.errstate(divide="ignore", invalid="ignore"):
        income_factor = np.where(known, np.fmin(floor_before / floor_after, 1.0), 1.0)
    for ratio, numerator in (
        ("oop_to_income_12m", "hospital_oop_12m_yuan"),
        ("disaster_loss_to_income_12m", "disaster_loss_12m_yuan"),
    ):
        if ratio not in out or numerator not in before:
            continue
        old, new = before[numerator], out.get(numerator)
        with np.errstate(divide="ignore", invalid="ignore"):
            numerator_factor = np.where(old > 0, np.fmin(new / old, 1.0), 1.0)
        out.set(ratio, original.get(ratio) * (numerator_factor * income_factor))


def _line(original: _Columns, pc: np.ndarray) -> np.ndarray:
    """The monitoring line of the income year, per row: the meta column, else income ÷ its ratio to the line;
    NaN where neither gives a positive line."""
    with np.errstate(divide="ignore", invalid="ignore"):
        derived = pc / original.get("income_to_line") if "income_to_line" in original else np.full(len(pc), np.nan)
    line = original.get("monitoring_line_yuan") if "monitoring_line_yuan" in original else derived
    line = np.where(np.isnan(line), derived, line)
    return np.where(np.isfinite(line) & (line > 0), line, np.nan)


def _to_line(out: _Changed, original: _Columns, name: str, gained: np.ndarray, line: np.ndarray) -> None:
    """Add the income gained, in multiples of the line, to a ratio to the line; rows without a usable line
    keep their value."""
    if name in out:
        value = original.get(name)
        out.set(name, np.where(np.isnan(line), value, value + gained / line))


_LARGEST: Final = float(np.finfo(np.float64).max)


def _nan_to_num(values: np.ndarray, nan: float = 0.0) -> np.ndarray:
    """`np.nan_to_num(values, nan=nan)` of a float64 array, the same values: NaN → `nan`, ±inf → ± the largest
    float. Three ufuncs instead of its per-call dtype look-ups, which cost more than the arithmetic on the
    one or few rows of an API request (called ~30 times per household)."""
    return np.minimum(np.maximum(np.where(np.isnan(values), nan, values), -_LARGEST), _LARGEST)
