"""Collectors for the dated records a simulated year produces (events, assistance spells).

Records are kept as columns of integer indices (household, member) until the table writer turns them into
ids, so that a year of a million households stays a handful of numpy arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

_EVENT_AMOUNTS = ("total_cost_yuan", "oop_cost_yuan", "loss_yuan", "amount_yuan")
_EVENT_INTS = ("hospital_days", "disability_grade")


@dataclass
class EventLog:
    parts: list[dict[str, np.ndarray]] = field(default_factory=list)
    labels: list[tuple[str, str, str | None]] = field(default_factory=list)  # one per part

    def add(
        self,
        event_type: str,
        department: str,
        household: np.ndarray,
        event_date: np.ndarray,
        member: np.ndarray | None = None,
        *,
        disaster_type: str | None = None,
        **values: np.ndarray,
    ) -> None:
        n = len(household)
        if n == 0:
            return
        part = {
            "household": household.astype(np.int64),
            "member": (member if member is not None else np.full(n, -1)).astype(np.int64),
            "event_date": event_date.astype("datetime64[D]"),
        }
        for name in _EVENT_AMOUNTS:
            part[name] = np.round(values.pop(name), 2) if name in values else np.full(n, np.nan)
        for name in _EVENT_INTS:
            part[name] = values.pop(name).astype(float) if name in values else np.full(n, np.nan)
        if values:
            raise TypeError(f"unknown event values: {sorted(values)}")
        self.parts.append(part)
        self.labels.append((event_type, department, disaster_type))

    def to_frame(self, household_ids: pa.Array, member_ids: pa.Array, id_prefix: str) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame()
        cols: dict[str, Any] = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        sizes = [len(p["household"]) for p in self.parts]
        for i, name in enumerate(("event_type", "source_department", "disaster_type")):
            cols[name] = _repeat_labels([lab[i] for lab in self.labels], sizes)
        order = np.lexsort((cols["household"], cols["event_date"]))
        cols = {k: v[order] for k, v in cols.items()}
        n = len(order)
        member = cols.pop("member")
        frame = pd.DataFrame(
            {
                "event_id": _ids(id_prefix, n),
                "household_id": _take(household_ids, cols.pop("household")),
                "member_id": _take_optional(member_ids, member),
                "event_type": cols.pop("event_type"),
                "event_date": cols.pop("event_date"),
                "source_department": cols.pop("source_department"),
            }
        )
        for name in ("total_cost_yuan", "oop_cost_yuan", "hospital_days", "loss_yuan", "amount_yuan"):
            frame[name] = cols[name]
        frame["disaster_type"] = cols["disaster_type"]
        frame["disability_grade"] = cols["disability_grade"]
        for name in _EVENT_INTS:
            frame[name] = frame[name].astype("Int64")
        return frame


@dataclass
class SpellLog:
    parts: list[dict[str, np.ndarray]] = field(default_factory=list)
    measures: list[str] = field(default_factory=list)  # one per part

    def add(
        self,
        measure: str,
        household: np.ndarray,
        start: np.ndarray,
        end: np.ndarray | None = None,
        member: np.ndarray | None = None,
        *,
        monthly: np.ndarray | None = None,
        lump: np.ndarray | None = None,
    ) -> None:
        n = len(household)
        if n == 0:
            return
        nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
        self.parts.append(
            {
                "household": household.astype(np.int64),
                "member": (member if member is not None else np.full(n, -1)).astype(np.int64),
                "start_date": start.astype("datetime64[D]"),
                "end_date": nat if end is None else end.astype("datetime64[D]"),
                "monthly_amount_yuan": np.full(n, np.nan) if monthly is None else np.round(monthly, 2),
                "lump_sum_yuan": np.full(n, np.nan) if lump is None else np.round(lump, 2),
            }
        )
        self.measures.append(measure)

    def to_frame(self, household_ids: pa.Array, member_ids: pa.Array, id_prefix: str) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame()
        cols: dict[str, Any] = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        cols["measure"] = _repeat_labels(self.measures, [len(p["household"]) for p in self.parts])
        order = np.lexsort((cols["household"], cols["start_date"]))
        cols = {k: v[order] for k, v in cols.items()}
        return pd.DataFrame(
            {
                "spell_id": _ids(id_prefix, len(order)),
                "household_id": _take(household_ids, cols["household"]),
                "member_id": _take_optional(member_ids, cols["member"]),
                "measure": cols["measure"],
                "start_date": cols["start_date"],
                "end_date": cols["end_date"],
                "monthly_amount_yuan": cols["monthly_amount_yuan"],
                "lump_sum_yuan": cols["lump_sum_yuan"],
            }
        )


def _repeat_labels(labels: Sequence[str | None], sizes: list[int]) -> pd.Categorical:
    """A categorical column holding labels[i] for sizes[i] rows each, without building strings per row."""
    categories = sorted({lab for lab in labels if lab is not None})
    code_of = [categories.index(lab) if lab is not None else -1 for lab in labels]
    codes = np.repeat(np.array(code_of, dtype=np.int16), sizes)
    return pd.Categorical.from_codes(codes, categories=categories)  # type: ignore[call-overload]


def make_ids(prefix: str, n: int, width: int = 9) -> pa.Array:
    """`prefix` + zero-padded sequence number, built in Arrow (fast for millions)."""
    import pyarrow.compute as pc

    numbers = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), numbers, "")


def _ids(prefix: str, n: int) -> pd.Series:
    return pd.Series(make_ids(prefix, n), dtype=pd.ArrowDtype(pa.string()))


def _take(ids: pa.Array, index: np.ndarray) -> pd.Series:
    return pd.Series(ids.take(pa.array(index)), dtype=pd.ArrowDtype(pa.string()))


def _take_optional(ids: pa.Array, index: np.ndarray) -> pd.Series:
    mask = index < 0
    taken = ids.take(pa.array(np.where(mask, 0, index), mask=None))
    import pyarrow.compute as pc

    return pd.Series(pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), taken), dtype=pd.ArrowDtype(pa.string()))
