"""Labelled snapshots: hand-computed labels, the censoring guard, and the leakage test (docs/domain.md §7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.profiles.build import build_profiles
from features.reading.sources import Sources
from tests.cities import city
from tests.tiny_city import AS_OF, tiny_sources
from training.labels import LabelWindowError, build_snapshots


def test_identified_label_on_the_tiny_city() -> None:
    snapshots = build_snapshots(tiny_sources(), [AS_OF], "identified_12m", data_end="2026-01-01")
    # H1 is under monitoring on as_of (its elimination is dated later): it cannot be newly identified.
    assert snapshots["household_id"].tolist() == ["H2", "H3"]
    assert snapshots["label"].tolist() == [1, 0]  # H2 identified 2024-02-01
    assert (snapshots["as_of"] == AS_OF).all()
    assert snapshots["label"].dtype == np.int8


def test_the_horizon_is_half_open() -> None:
    """H1 was eliminated 2022-02-01 and identified again 2023-06-01: inside [as_of, as_of + 12 months)?"""
    inside = build_snapshots(tiny_sources(), ["2022-06-02"], "identified_12m", data_end="2026-01-01").set_index(
        "household_id"
    )
    assert inside["label"].to_dict() == {"H1": 1, "H2": 0, "H3": 0}
    edge = build_snapshots(tiny_sources(), ["2022-06-01"], "identified_12m", data_end="2026-01-01").set_index(
        "household_id"
    )
    assert edge.loc["H1", "label"] == 0  # identified exactly 12 months later: outside
    shorter = build_snapshots(tiny_sources(), ["2023-01-01"], "identified_12m", horizon_months=5, data_end="2026-01-01")
    assert shorter.set_index("household_id").loc["H1", "label"] == 0  # 2023-06-01 is after 5 months


def test_income_label_uses_the_year_the_horizon_ends_in() -> None:
    sources = tiny_sources()
    snapshots = build_snapshots(sources, ["2023-01-01"], "income_below_line", data_end="2026-01-01")
    # 2023 incomes: H1 10,833 and H2 10,000 per person against the 2023 line 6,600; H3 has no record.
    assert snapshots.set_index("household_id")["label"].to_dict() == {"H1": 0, "H2": 0}
    lines = build_snapshots(sources, ["2023-01-01"], "income_below_line", data_end="2026-01-01",
                            lines=_lines_with(2023, 10_500.0))  # fmt: skip
    assert lines.set_index("household_id")["label"].to_dict() == {"H1": 0, "H2": 1}


def _lines_with(year: int, value: float):  # type: ignore[no-untyped-def]
    from features.contract.monitoring_lines import default_monitoring_lines

    return default_monitoring_lines().with_values("99", {year: value})


def test_a_horizon_past_the_data_is_refused() -> None:
    with pytest.raises(LabelWindowError, match="runs past the end of the data"):
        build_snapshots(tiny_sources(), ["2025-06-01"], "identified_12m", data_end="2026-01-01")
    allowed = build_snapshots(
        tiny_sources(), ["2025-06-01"], "identified_12m", data_end="2026-01-01", allow_incomplete=True
    )
    assert allowed["household_id"].tolist() == ["H1", "H3"]  # H2 is under monitoring since 2024-02-01


def test_unknown_label_and_no_dates_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown label 'x'"):
        build_snapshots(tiny_sources(), [AS_OF], "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no as_of dates"):
        build_snapshots(tiny_sources(), [])


def test_snapshots_on_the_city_have_plausible_base_rates() -> None:
    sources = city(2_000, 1)
    snapshots = build_snapshots(sources, ["2022-01-01", "2023-01-01", "2024-01-01"], "identified_12m")
    assert snapshots.groupby("as_of").size().between(1_800, 2_000).all()
    assert (snapshots["under_monitoring"] == 0).all()
    assert 0.005 < snapshots["label"].mean() < 0.06  # docs/domain.md §8: a few percent a year


def _scramble_outcomes(sources: Sources, as_of: pd.Timestamp) -> Sources:
    """Every identification-derived field that is not known on as_of, replaced by something else."""
    found = sources["identifications"].copy()
    later = pd.to_datetime(found["identified_date"]) >= as_of
    found.loc[later, "monitoring_type"] = "sudden"
    for i in range(1, 6):
        found.loc[later, f"risk_type_{i}"] = "99"
    found.loc[later, "discovery_channel"] = "self_report"
    # Eliminations dated on or after as_of, also of identifications made before it.
    eliminated_late = pd.to_datetime(found["elimination_date"]) >= as_of
    moved = found["elimination_date"].where(~eliminated_late, pd.Timestamp("2025-12-31"))
    found["elimination_date"] = moved.astype(found["elimination_date"].dtype)
    found.loc[eliminated_late, "elimination_way"] = "natural"
    # And identifications made after as_of are eliminated at once, assisted.
    found.loc[later, "elimination_date"] = pd.to_datetime(found.loc[later, "identified_date"])
    found.loc[later, "elimination_way"] = "assisted"
    return Sources(dict(sources.tables, identifications=found), sources.manifest)


@pytest.mark.parametrize("as_of", ["2022-01-01", "2023-01-01", "2024-01-01"])
def test_no_feature_reads_outcomes_dated_on_or_after_as_of(as_of: str) -> None:
    sources = city(2_000, 1)
    stamp = pd.Timestamp(as_of)
    scrambled = _scramble_outcomes(sources, stamp)
    assert not scrambled["identifications"].equals(sources["identifications"])
    pd.testing.assert_frame_equal(build_profiles(scrambled, stamp), build_profiles(sources, stamp))
