"""The monitoring status meta columns: a plain reference implementation of the rule, the leakage rule stated
directly, and the reading of a profile row's status (`features.profiles.status`)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.profiles._context import Context
from features.profiles._keys import KeyIndex
from features.profiles._monitoring import monitoring_status_columns
from features.profiles.build import build_profiles
from features.profiles.status import STATUS_COLUMNS, MonitoringStatus, StatusValueError, status_frame, status_of
from features.reading.sources import Sources
from tests.features.conftest import AS_OF

HOUSEHOLDS = [f"H{i}" for i in range(6)]
START = date(2019, 1, 1)
RISKS = ["01", "03", "0205", "07", "09"]


@st.composite
def identifications(draw: Any) -> pd.DataFrame:
    rows = []
    for k in range(draw(st.integers(0, 12))):
        identified = START + timedelta(days=draw(st.integers(0, 2500)))
        eliminated = draw(st.one_of(st.none(), st.integers(0, 900)))
        risks = draw(st.lists(st.sampled_from(RISKS), min_size=1, max_size=5, unique=True))
        rows.append(
            {
                "identification_id": f"I{k}",
                "household_id": draw(st.sampled_from([*HOUSEHOLDS, "elsewhere"])),
                "identified_date": pd.Timestamp(identified),
                "monitoring_type": draw(st.sampled_from(["unstable", "marginal", "sudden"])),
                **{f"risk_type_{i}": risks[i - 1] if i <= len(risks) else None for i in range(1, 6)},
                "elimination_date": None if eliminated is None else pd.Timestamp(identified + timedelta(eliminated)),
                "elimination_way": None if eliminated is None else draw(st.sampled_from(["assisted", "natural"])),
            }
        )
    frame = pd.DataFrame(rows, columns=[*_COLUMNS])
    for column in ("identified_date", "elimination_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


_COLUMNS = (
    "identification_id",
    "household_id",
    "identified_date",
    "monitoring_type",
    *(f"risk_type_{i}" for i in range(1, 6)),
    "elimination_date",
    "elimination_way",
)


def reference(table: pd.DataFrame, household: str, as_of: date) -> MonitoringStatus:
    """The rule in plain Python: identifications dated before as_of; an elimination counts when dated before it.
    Ties (two open spells identified the same day, two eliminations the same day) go to the later row."""
    day = pd.Timestamp(as_of)
    records = [{**row, "position": i} for i, row in enumerate(table.to_dict("records"))]
    seen = [row for row in records if row["household_id"] == household and row["identified_date"] < day]
    if not seen:
        return MonitoringStatus("not_monitored")

    def closed(row: dict[str, Any]) -> bool:
        return not pd.isna(row["elimination_date"]) and row["elimination_date"] < day

    open_rows = [row for row in seen if not closed(row)]
    if open_rows:
        row = max(open_rows, key=lambda r: (r["identified_date"], r["position"]))
        status, end, way = "monitored", None, None
    else:
        row = max(seen, key=lambda r: (r["elimination_date"], r["position"]))
        status, end, way = "eliminated", row["elimination_date"].date(), row["elimination_way"]
    risks = tuple(row[f"risk_type_{i}"] for i in range(1, 6) if not pd.isna(row[f"risk_type_{i}"]))
    return MonitoringStatus(status, row["monitoring_type"], risks, row["identified_date"].date(), end, way)


def computed(table: pd.DataFrame, as_of: date) -> list[MonitoringStatus]:
    ctx = Context(pd.Timestamp(as_of), KeyIndex(pd.Series(HOUSEHOLDS)))
    columns = monitoring_status_columns(ctx, table)
    frame = pd.DataFrame({name: pd.Series(values) for name, values in columns.items()})
    return [status_of(row) for row in frame.to_dict("records")]


@settings(max_examples=200, deadline=None)
@given(table=identifications(), offset=st.integers(0, 2900))
def test_status_follows_the_rule(table: pd.DataFrame, offset: int) -> None:
    as_of = START + timedelta(days=offset)
    assert computed(table, as_of) == [reference(table, h, as_of) for h in HOUSEHOLDS]


@settings(max_examples=200, deadline=None)
@given(table=identifications(), offset=st.integers(0, 2900), shift=st.integers(0, 400))
def test_records_dated_on_or_after_as_of_change_nothing(table: pd.DataFrame, offset: int, shift: int) -> None:
    """Identifications dated on or after as_of may be added, and eliminations dated on or after it may be
    recorded, with any values: the status on as_of is the one without them."""
    as_of = START + timedelta(days=offset)
    before = computed(table, as_of)
    late = table.copy()
    late["identification_id"] = "L" + late["identification_id"]
    late["identified_date"] = pd.Timestamp(as_of + timedelta(days=shift))
    open_now = table["elimination_date"].isna() | (table["elimination_date"] >= pd.Timestamp(as_of))
    eliminated_later = table.copy()
    eliminated_later.loc[open_now, "elimination_date"] = pd.Timestamp(as_of + timedelta(days=shift))
    eliminated_later.loc[open_now, "elimination_way"] = "natural"
    assert computed(pd.concat([table, late], ignore_index=True), as_of) == before
    assert computed(eliminated_later, as_of) == before


def test_the_profile_builder_writes_the_status_as_meta_columns(small_city: Sources) -> None:
    profiles = build_profiles(small_city, AS_OF)
    assert set(STATUS_COLUMNS) <= set(profiles.columns)
    status = profiles["monitoring_status"]
    assert set(status) <= {"not_monitored", "monitored", "eliminated"}
    # The same households as the model's own monitoring-history feature: one rule.
    assert ((status == "monitored") == (profiles["under_monitoring"] == 1.0)).all()
    assert ((status == "not_monitored") == (profiles["previously_identified"] == 0.0)).all()
    assert (status == "monitored").any() and (status == "eliminated").any()
    monitored = profiles[status == "monitored"]
    assert monitored["identified_date"].notna().all() and monitored["elimination_date"].isna().all()
    assert (monitored["identified_date"] < pd.Timestamp(AS_OF)).all()


def test_a_profile_without_status_columns_is_unknown() -> None:
    assert status_of({"household_id": "H1"}) == MonitoringStatus("unknown")
    assert status_of({"monitoring_status": None}).status == "unknown"
    frame = status_frame(pd.DataFrame({"household_id": ["H1", "H2"]}))
    assert list(frame["monitoring_status"]) == ["unknown", "unknown"] and frame["identified_date"].isna().all()


def test_a_row_status_is_read_from_text_and_dates() -> None:
    row = {
        "monitoring_status": "eliminated",
        "monitoring_type": "sudden",
        "monitoring_risk_types": "01, 0205",
        "identified_date": "2022-03-04",
        "elimination_date": pd.Timestamp("2023-01-02"),
        "elimination_way": "assisted",
    }
    assert status_of(row) == MonitoringStatus(
        "eliminated", "sudden", ("01", "0205"), date(2022, 3, 4), date(2023, 1, 2), "assisted"
    )
    assert status_of(row).newly_identifiable and not MonitoringStatus("monitored").newly_identifiable
    assert status_of({**row, "identified_date": np.datetime64("NaT")}).identified_date is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("monitoring_status", "watched"),
        ("monitoring_type", "poor"),
        ("monitoring_risk_types", "01,88"),
        ("elimination_way", "forgotten"),
        ("identified_date", "yesterday"),
    ],
)
def test_a_value_outside_the_code_lists_names_its_field(field: str, value: str) -> None:
    with pytest.raises(StatusValueError, match=field) as raised:
        status_of({"monitoring_status": "monitored", field: value})
    assert raised.value.field == field
