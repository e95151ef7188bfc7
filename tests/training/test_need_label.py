"""The need_12m label (training/need_label.py) and its observation weights (training/observation.py).

Hand-computed on the tiny city (tests/tiny_city.py) for the window 2023-01-01 … 2023-12-31, and property-tested:
records dated outside the window never change the label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.contract.monitoring_lines import default_monitoring_lines
from features.profiles.build import build_profiles
from features.reading.sources import Sources
from tests.tiny_city import tiny_sources
from training.labels import build_snapshots, resolve_label
from training.need_label import need_in_window
from training.observation import observation_weights

AS_OF = pd.Timestamp("2023-01-01")
HORIZON = pd.Timestamp("2024-01-01")
END = "2026-01-01"


def _replace(sources: Sources, **tables: pd.DataFrame) -> Sources:
    return Sources(dict(sources.tables, **tables), sources.manifest)


def _quiet(sources: Sources) -> Sources:
    """The tiny city without H1's costly stay, its C-rated house, H2's dropout and its failed water check."""
    events = sources["events"]
    housing = sources["housing_checks"]
    water = sources["water_checks"]
    return _replace(
        sources,
        events=events[~events["event_id"].isin(["E1", "E9"])],
        housing_checks=housing[housing["housing_grade"] != "C"],
        water_checks=water[water["household_id"] != "H2"],
    )


def _with_event(sources: Sources, household: str, kind: str, when: str, **values: float) -> Sources:
    events = sources["events"]
    row = dict.fromkeys(events.columns, pd.NA)
    row.update(event_id=f"X{len(events)}", household_id=household, event_type=kind, event_date=pd.Timestamp(when))
    row["source_department"] = "medical_insurance" if kind == "hospital_stay" else "agriculture"
    row.update(values)
    return _replace(sources, events=pd.concat([events, pd.DataFrame([row])], ignore_index=True))


def _need(sources: Sources, as_of: pd.Timestamp = AS_OF, lines: object = None) -> pd.DataFrame:
    profiles = build_profiles(sources, as_of)
    horizon = as_of + pd.DateOffset(months=12)
    table = need_in_window(sources, profiles, as_of, horizon, lines or default_monitoring_lines())  # type: ignore[arg-type]
    return table.set_axis(profiles["household_id"].to_numpy())


def test_the_tiny_city_in_2023() -> None:
    need = _need(tiny_sources())
    # H1: a 2023 stay with 8,000 out of pocket (> 6,000 for a former poor household) and a C-rated house.
    assert need.loc["H1", ["need", "need_rigid_expenditure", "need_guarantee", "need_income"]].tolist() == [1, 1, 1, 0]
    # H2: a dropout (2023-09-01) and a failed water check (2023-05-01); income 10,000 per person, above 6,600.
    assert need.loc["H2", ["need", "need_guarantee", "need_income"]].tolist() == [1, 1, 0]
    # H3 has no record at all: unobserved, not "no need".
    assert np.isnan(need.loc["H3", "need"]) and not need.loc["H3", "income_observed"]


def test_an_observed_income_above_the_line_without_triggers_is_no_need() -> None:
    need = _need(_quiet(tiny_sources()))
    assert need["need"].to_dict() == pytest.approx({"H1": 0.0, "H2": 0.0, "H3": np.nan}, nan_ok=True)


def test_income_is_judged_after_medical_costs() -> None:
    # H1 2023: (24,000 + 10,000 + 500 + 2,000 − 4,000) / 3 = 10,833 per person; after 3,000 of medical costs
    # 9,833. A line of 10,000 is above the second and below the first.
    lines = default_monitoring_lines().with_values("99", {2023: 10_000.0})
    assert _need(_quiet(tiny_sources()), lines=lines).loc["H1", "need_income"] == 1
    lines = default_monitoring_lines().with_values("99", {2023: 9_800.0})
    assert _need(_quiet(tiny_sources()), lines=lines).loc["H1", "need_income"] == 0


# H1 (former poor) already has a 2,500-yuan stay in 2023: with 4,800 more the year's 7,300 stays under 50 % of
# the 2023 prior-year income (14,700 → 7,350), so only a single stay above 6,000 fires. H2 (ordinary): 10,000.
@pytest.mark.parametrize(
    ("household", "oop", "expected"),
    [("H1", 6_001.0, 1), ("H1", 4_800.0, 0), ("H2", 9_999.0, 0), ("H2", 10_001.0, 1)],
)
def test_single_stay_thresholds_depend_on_the_household_type(household: str, oop: float, expected: int) -> None:
    sources = _with_event(_quiet(tiny_sources()), household, "hospital_stay", "2023-08-01", total_cost_yuan=oop,
                          oop_cost_yuan=oop)  # fmt: skip
    assert _need(sources).loc[household, "need_rigid_expenditure"] == expected


def test_yearly_costs_add_up_against_the_prior_year_income() -> None:
    # H2 is an ordinary household: the window's out-of-pocket costs against 100 % of the prior-year rural income.
    from features.contract.monitoring_lines import default_rural_incomes

    limit = default_rural_incomes().lookup(np.array([2023.0]), np.array(["99"], dtype=object))[0]
    sources = _quiet(tiny_sources())
    for when in ("2023-02-01", "2023-06-01", "2023-11-01"):
        sources = _with_event(sources, "H2", "hospital_stay", when, total_cost_yuan=9_000.0,
                              oop_cost_yuan=(limit + 3) / 3)  # fmt: skip
    assert _need(sources).loc["H2", "need_rigid_expenditure"] == 1
    one_less = _with_event(_quiet(tiny_sources()), "H2", "disaster", "2023-07-01", loss_yuan=limit - 1)
    assert _need(one_less).loc["H2", "need_rigid_expenditure"] == 0
    disaster = _with_event(_quiet(tiny_sources()), "H2", "disaster", "2023-07-01", loss_yuan=limit + 1)
    assert _need(disaster).loc["H2", "need_rigid_expenditure"] == 1


def test_department_records_alone_show_need_of_an_unobserved_household() -> None:
    sources = _with_event(_quiet(tiny_sources()), "H3", "hospital_stay", "2023-03-01", total_cost_yuan=20_000.0,
                          oop_cost_yuan=12_000.0)  # fmt: skip
    need = _need(sources)
    assert need.loc["H3", "need"] == 1 and not need.loc["H3", "income_observed"]


_outside = st.one_of(
    st.dates(pd.Timestamp("2019-01-01").date(), (AS_OF - pd.Timedelta(days=1)).date()),
    st.dates(HORIZON.date(), pd.Timestamp("2025-12-31").date()),
)


@settings(max_examples=25, deadline=None)
@given(
    household=st.sampled_from(["H1", "H2", "H3"]),
    when=_outside,
    oop=st.floats(0, 200_000),
    kind=st.sampled_from(["hospital_stay", "disaster", "school_dropout"]),
)
def test_records_outside_the_window_never_change_the_label(household: str, when: object, oop: float, kind: str) -> None:
    base = _need(_quiet(tiny_sources()))
    values = {"hospital_stay": {"total_cost_yuan": oop, "oop_cost_yuan": oop}, "disaster": {"loss_yuan": oop}}
    changed = _with_event(_quiet(tiny_sources()), household, kind, str(when), **values.get(kind, {}))
    after = _need(changed)
    label_columns = ["need", "income_observed", "need_income", "need_rigid_expenditure", "need_guarantee"]
    pd.testing.assert_frame_equal(after[label_columns], base[label_columns])


@settings(max_examples=25, deadline=None)
@given(when=st.dates(AS_OF.date(), (HORIZON - pd.Timedelta(days=1)).date()), household=st.sampled_from(["H1", "H2"]))
def test_a_record_inside_the_window_counts_on_any_day_of_it(when: object, household: str) -> None:
    changed = _with_event(_quiet(tiny_sources()), household, "school_dropout", str(when))
    assert _need(changed).loc[household, "need"] == 1


def test_need_snapshots_leave_out_the_unobserved_and_carry_weights() -> None:
    snapshots = build_snapshots(tiny_sources(), ["2023-01-01"], resolve_label("need"), data_end=END)
    assert snapshots["household_id"].tolist() == ["H1", "H2"]
    assert snapshots["label"].tolist() == [1, 1]
    # Both show their need through department records: certain rows weigh 1.
    assert snapshots["weight"].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="unknown label 'needs'"):
        resolve_label("needs")


def test_weights_restore_the_unobserved_households() -> None:
    """Ordinary households observed one time in four, former poor ones always: the weighted observed rows count
    every household once again, group by group."""
    rng = np.random.default_rng(0)
    n = 4_000
    former_poor = rng.random(n) < 0.3
    profiles = pd.DataFrame(
        {
            "poverty_alleviated": former_poor.astype(float),
            "dibao_active": 0.0,
            "tekun_active": 0.0,
            "previously_identified": 0.0,
            "income_record_age_years": np.where(former_poor, 1.0, np.nan),
        }
    )
    observed = former_poor | (rng.random(n) < 0.25)
    certain = rng.random(n) < 0.05
    weights = observation_weights(profiles, observed, certain)
    assert (weights[certain] == 1).all()
    assert (weights[~certain & ~observed] == 0).all()
    assert (weights[~certain & observed] >= 1).all()
    for group in (former_poor, ~former_poor):
        rest = group & ~certain
        assert weights[rest].sum() == pytest.approx(rest.sum(), rel=0.03)


def test_the_fit_uses_the_observation_weights() -> None:
    from tests.cities import city
    from training.fit import fit_risk_model
    from training.pipeline import data_from_sources
    from training.split import latest_split

    dates = [pd.Timestamp(f"{year}-01-01") for year in range(2020, 2026)]
    data = data_from_sources(city(2_000, 1), dates[:-1], label="need_12m")
    assert data.label == "need_12m" and (data.snapshots["weight"] > 1).any()
    split = latest_split(data.snapshots["as_of"], 12)
    weighted = fit_risk_model(data.snapshots, data.features, split).model
    plain = fit_risk_model(data.snapshots.drop(columns=["weight"]), data.features, split).model
    test = data.snapshots[split.test_mask(data.snapshots)]
    assert not np.allclose(weighted.predict_proba(test), plain.predict_proba(test))
