"""Labels for households already in monitoring, and after: hand-computed on the tiny city, an independent
reference on a generated city, and the leakage rules (features before as_of, labels on or after, nothing past
the horizon)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.reading.sources import Sources
from tests.cities import city
from tests.tiny_city import AS_OF, tiny_sources
from training.labels import build_snapshots, resolve_label

CITY_DATES = ["2022-01-01", "2022-07-01", "2023-04-01", "2024-01-01"]


def test_eliminated_label_on_the_tiny_city() -> None:
    # H1 is monitored on 2024-01-01 (I2, eliminated 2024-03-01); H2 and H3 are not monitoring objects.
    snapshots = build_snapshots(tiny_sources(), [AS_OF], "eliminated_6m", data_end="2026-01-01")
    assert snapshots.set_index("household_id")["label"].to_dict() == {"H1": 1}
    # Six months, half-open: from 2023-09-01 the window ends on 2024-03-01 itself.
    edge = build_snapshots(tiny_sources(), ["2023-09-01"], "eliminated_6m", data_end="2026-01-01")
    assert edge.set_index("household_id")["label"].to_dict() == {"H1": 0}
    inside = build_snapshots(tiny_sources(), ["2023-09-02"], "eliminated_6m", data_end="2026-01-01")
    assert inside.set_index("household_id")["label"].to_dict() == {"H1": 1}
    # On the elimination day itself it is not yet known (dated before as_of only); the day after, H1 is no
    # monitoring object any more and H2 (identified 2024-02-01, never eliminated) is.
    same_day = build_snapshots(tiny_sources(), ["2024-03-01"], "eliminated_6m", data_end="2026-01-01")
    assert same_day.set_index("household_id")["label"].to_dict() == {"H1": 1, "H2": 0}
    after = build_snapshots(tiny_sources(), ["2024-03-02"], "eliminated_6m", data_end="2026-01-01")
    assert after.set_index("household_id")["label"].to_dict() == {"H2": 0}


def test_returned_label_on_the_tiny_city() -> None:
    # H1's first risk was eliminated 2022-02-01; it was identified again 2023-06-01.
    inside = build_snapshots(tiny_sources(), ["2022-06-02"], "returned_12m", data_end="2026-01-01")
    assert inside.set_index("household_id")["label"].to_dict() == {"H1": 1}
    edge = build_snapshots(tiny_sources(), ["2022-06-01"], "returned_12m", data_end="2026-01-01")
    assert edge.set_index("household_id")["label"].to_dict() == {"H1": 0}
    # Before the elimination, nobody is an eliminated household.
    assert build_snapshots(tiny_sources(), ["2022-01-01"], "returned_12m", data_end="2026-01-01").empty


def test_short_names_resolve() -> None:
    assert resolve_label("eliminated") == "eliminated_6m"
    assert resolve_label("returned") == "returned_12m"


def test_a_six_month_horizon_past_the_data_is_refused_and_twelve_months_too() -> None:
    build_snapshots(tiny_sources(), ["2025-07-01"], "eliminated_6m", data_end="2026-01-01")  # ends on the edge
    with pytest.raises(ValueError, match="runs past the end of the data"):
        build_snapshots(tiny_sources(), ["2025-07-02"], "eliminated_6m", data_end="2026-01-01")
    with pytest.raises(ValueError, match="runs past the end of the data"):
        build_snapshots(tiny_sources(), ["2025-07-01"], "returned_12m", data_end="2026-01-01")


def _reference(sources: Sources, as_of: pd.Timestamp, label: str) -> dict[str, int]:
    """The label written out per household from the identification spells, independently of training.labels."""
    found = sources["identifications"]
    months = 6 if label == "eliminated_6m" else 12
    horizon = as_of + pd.DateOffset(months=months)
    out: dict[str, int] = {}
    for household, spells in found.groupby("household_id"):
        before = spells[pd.to_datetime(spells["identified_date"]) < as_of]
        if before.empty:
            continue
        ends = pd.to_datetime(before["elimination_date"])
        open_ = ends.isna() | (ends >= as_of)
        if label == "eliminated_6m" and open_.any():
            out[str(household)] = int(((ends >= as_of) & (ends < horizon)).any())
        elif label == "returned_12m" and not open_.any():
            starts = pd.to_datetime(spells["identified_date"])
            out[str(household)] = int(((starts >= as_of) & (starts < horizon)).any())
    return out


@pytest.mark.parametrize("label", ["eliminated_6m", "returned_12m"])
def test_labels_equal_a_reference_on_a_generated_city(label: str) -> None:
    sources = city(2_000, 1)
    for as_of in CITY_DATES[:2]:
        stamp = pd.Timestamp(as_of)
        snapshots = build_snapshots(sources, [stamp], label)  # type: ignore[arg-type]
        got = dict(zip(snapshots["household_id"].astype(str), snapshots["label"].astype(int), strict=True))
        expected = _reference(sources, stamp, label)
        assert got == expected
        assert 0 < sum(got.values()) < len(got)  # both outcomes occur: the comparison is not vacuous


def _rewrite_after(sources: Sources, when: pd.Timestamp, seed: int) -> Sources:
    """Identifications dated on or after `when`, and eliminations dated on or after it, moved at random within
    the data, and new spells of random households added after it; everything before `when` kept."""
    rng = np.random.default_rng(seed)
    found = sources["identifications"].copy()
    identified = pd.to_datetime(found["identified_date"])
    eliminated = pd.to_datetime(found["elimination_date"])
    late = identified >= when
    shift = pd.to_timedelta(rng.integers(0, 200, len(found)), unit="D")
    found.loc[late, "identified_date"] = (identified[late] + shift[late]).to_numpy()
    late_end = eliminated >= when
    found.loc[late_end, "elimination_date"] = (eliminated[late_end] + shift[late_end]).to_numpy()
    found["identified_date"] = pd.to_datetime(found["identified_date"]).astype(
        sources["identifications"]["identified_date"].dtype
    )
    found["elimination_date"] = pd.to_datetime(found["elimination_date"]).astype(
        sources["identifications"]["elimination_date"].dtype
    )
    return Sources(dict(sources.tables, identifications=found), sources.manifest)


@pytest.mark.parametrize("label", ["eliminated_6m", "returned_12m"])
@pytest.mark.parametrize("seed", [1, 2])
def test_records_past_the_horizon_change_no_label_and_later_records_no_feature(label: str, seed: int) -> None:
    sources = city(2_000, 1)
    as_of = pd.Timestamp(CITY_DATES[2])
    months = 6 if label == "eliminated_6m" else 12
    horizon = as_of + pd.DateOffset(months=months)
    base = build_snapshots(sources, [as_of], label).set_index("household_id")  # type: ignore[arg-type]
    # Past the horizon: nothing changes, features or labels.
    moved = build_snapshots(_rewrite_after(sources, horizon, seed), [as_of], label).set_index("household_id")  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(moved, base)
    # Inside the window: the same households with the same features; only labels may change.
    window = build_snapshots(_rewrite_after(sources, as_of, seed), [as_of], label).set_index("household_id")  # type: ignore[arg-type]
    assert list(window.index) == list(base.index)
    pd.testing.assert_frame_equal(window.drop(columns="label"), base.drop(columns="label"))
