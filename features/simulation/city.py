"""`simulate_city`: generate and write every source table of the synthetic city, year by year."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from features.reading.sources import SourceWriter
from features.simulation.civil_affairs import civil_affairs_stream, recognised_rows, safety_net_rows
from features.simulation.config import CityConfig
from features.simulation.geography import build_geography
from features.simulation.identity import id_numbers
from features.simulation.monitoring import MonitoringLog, finish, identify, review_eliminations
from features.simulation.need import NEED_FILE, NeedLog, record_need
from features.simulation.observation import income_observed, observation_stream
from features.simulation.population import RELATION_CODES, Population, build_population
from features.simulation.records import EventLog, SpellLog, _take, make_ids
from features.simulation.state import State, YearOutcome, initial_state
from features.simulation.year import simulate_year

TRUTH_DIR = "_truth"
TRUTH_FILE = "identification_causes.parquet"
GENERATOR = "relapse simulate"

Progress = Callable[[str, int, int], None]


def simulate_city(config: CityConfig, seed: int, out_dir: Path, progress: Progress | None = None) -> dict:
    """Write the city's tables to `out_dir` (Parquet) and return the manifest.

    Deterministic for a seed and config. The ground truth — the cause of each identification and every
    household's need, found or not (features/simulation/need.py) — goes to `out_dir/_truth/`, which is not part
    of the source-data contract: only tests and evaluations read it.
    """
    report = progress or (lambda *_: None)
    total_steps = len(config.years) + 2
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    data_end = np.datetime64(f"{config.last_year + 1}-01-01")

    report("geography and population", 0, total_steps)
    geo = build_geography(config, rng)
    pop = build_population(config, geo, rng)
    villages = geo.villages
    household_ids = make_ids("H", pop.n_households)
    member_ids = make_ids("M", pop.n_members, width=10)

    writer = SourceWriter(out_dir)
    writer.append("villages", villages)
    writer.append("households", _households(pop, villages, household_ids))
    writer.append("members", _members(pop, villages, household_ids, member_ids))
    report("geography and population", 1, total_steps)

    state = initial_state(pop, rng, np.datetime64(f"{config.first_year}-01-01"))
    monitoring = MonitoringLog(pop.n_households)
    need = NeedLog(pop.n_households)
    observation_rng = observation_stream(seed)
    civil_rng = civil_affairs_stream(seed)
    area = np.round(rng.lognormal(np.log(95), 0.3, pop.n_households), 1)
    for step, year in enumerate(config.years, start=2):
        events, spells = EventLog(), SpellLog()
        dropped_out_before = state.m_dropped_out.copy()
        outcome = simulate_year(year, pop, state, config, geo, rng, events, spells)
        review_eliminations(year, state, outcome, config, rng, monitoring)
        monitored_before, parts_before = state.hh_monitored.copy(), len(monitoring.parts)
        identify(year, pop, state, outcome, config, rng, monitoring)
        identified, identified_date = _identified_this_year(monitoring, parts_before)
        record_need(
            year, pop, state, outcome, config, dropped_out_before, monitored_before, identified, identified_date, need
        )
        state.hh_prev_income_pc = outcome.income_pc
        active = ~state.hh_dissolved
        observed = income_observed(pop, state, config, identified, observation_rng)
        writer.append("income", _income(year, outcome, active, observed, household_ids, rng))
        writer.append("member_status", _status(outcome.status, member_ids))
        writer.append("events", events.to_frame(household_ids, member_ids, f"E{year}"))
        spell_rows = _recorded(spells.to_frame(household_ids, member_ids, f"S{year}"), data_end)
        writer.append("assistance", spell_rows)
        recognised = recognised_rows(year, state, outcome, config, active, household_ids, civil_rng)
        _append_civil_affairs(writer, safety_net_rows(spell_rows), _recorded(recognised, data_end))
        share = 1.0 if year == config.first_year else 0.3
        writer.append("housing_checks", _housing_checks(year, state, active, share, area, household_ids, rng))
        writer.append("water_checks", _water_checks(year, state, active, share, household_ids, rng))
        state.hh_dissolved |= _alive_members(pop, state) == 0
        report(f"year {year}", step, total_steps)

    closing = _open_spells(pop, state)
    closing_rows = _recorded(closing.to_frame(household_ids, member_ids, "S9999"), data_end)
    writer.append("assistance", closing_rows)
    _append_civil_affairs(writer, safety_net_rows(closing_rows))
    finish(monitoring, data_end)
    identifications, truth = monitoring.to_frames(household_ids, data_end)
    writer.append("identifications", identifications)
    truth_dir = out_dir / TRUTH_DIR
    truth_dir.mkdir(parents=True, exist_ok=True)
    truth.to_parquet(truth_dir / TRUTH_FILE, index=False)
    need.to_frame(household_ids).to_parquet(truth_dir / NEED_FILE, index=False)
    manifest = {
        "synthetic": True,
        "notice": "SYNTHETIC DATA — a fictional city (region codes 99…); no real person or place.",
        "generator": GENERATOR,
        "seed": seed,
        "households": config.households,
        "first_year": config.first_year,
        "last_year": config.last_year,
        "extract_date": str(data_end),
    }
    writer.close(manifest)
    report("done", total_steps, total_steps)
    return manifest


def _identified_this_year(log: MonitoringLog, parts_before: int) -> tuple[np.ndarray, np.ndarray]:
    """Per household: identified by this year's process, and when (NaT when not)."""
    identified = np.zeros(log.n_households, bool)
    when = np.full(log.n_households, np.datetime64("NaT"), "datetime64[D]")
    if len(log.parts) > parts_before:
        part = log.parts[-1]
        identified[part["household"]] = True
        when[part["household"]] = part["identified_date"]
    return identified, when


def _recorded(spells: pd.DataFrame, data_end: np.datetime64) -> pd.DataFrame:
    """The extract holds what was recorded before its date: spells decided for next year are not in it."""
    return spells[spells["start_date"] < data_end] if len(spells) else spells


def _append_civil_affairs(writer: SourceWriter, *frames: pd.DataFrame) -> None:
    rows = [frame for frame in frames if len(frame)]
    if rows:
        writer.append("civil_affairs", pd.concat(rows, ignore_index=True))


def _alive_members(pop: Population, state: State) -> np.ndarray:
    return np.bincount(pop.m_household, weights=state.m_alive.astype(float), minlength=pop.n_households)


def _households(pop: Population, villages: pd.DataFrame, ids: pa.Array) -> pd.DataFrame:
    pa_ = pop.hh_poverty_alleviated
    return pd.DataFrame(
        {
            "household_id": pd.Series(ids, dtype=pd.ArrowDtype(pa.string())),
            "region_code": villages["region_code"].to_numpy()[pop.hh_village],
            "household_type": np.where(pa_, "poverty_alleviated", "general"),
            "registration_year": pd.array(pop.hh_registration_year, dtype="Int64"),
            "exit_year": pd.array(pop.hh_exit_year, dtype="Int64"),
            "relocated": pop.hh_relocated,
            "land_area_mu": pop.hh_land_mu,
            "orchard_area_mu": pop.hh_orchard_mu,
        }
    )


def _members(pop: Population, villages: pd.DataFrame, household_ids: pa.Array, member_ids: pa.Array) -> pd.DataFrame:
    county = villages["county_code"].to_numpy().astype(np.int64)[pop.hh_village][pop.m_household]
    education = pop.m_education.astype(object)
    education[(education == "") | pop.m_missing_education] = None
    return pd.DataFrame(
        {
            "member_id": pd.Series(member_ids, dtype=pd.ArrowDtype(pa.string())),
            "household_id": _take(household_ids, pop.m_household),
            "id_number": pd.Series(id_numbers(county, pop.m_birth, pop.m_male), dtype=pd.ArrowDtype(pa.string())),
            "gender": np.where(pop.m_male, "male", "female"),
            "birth_date": pop.m_birth,
            "relation_to_head": RELATION_CODES[pop.m_relation],
            "ethnicity": pop.m_ethnicity,
            "education": pd.Series(education, dtype="string"),
        }
    )


def _income(
    year: int,
    outcome: YearOutcome,
    active: np.ndarray,
    observed: np.ndarray,
    ids: pa.Array,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The income rows of the households whose income is recorded this year (features/simulation/observation.py).

    The recording dates are drawn for every active household, observed or not, so that the city's random stream
    does not depend on who is observed.
    """
    idx = np.flatnonzero(active)
    frame = pd.DataFrame(
        {
            "household_id": _take(ids, idx),
            "income_year": year,
            "recorded_date": np.datetime64(f"{year}-12-01") + rng.integers(0, 25, len(idx)).astype("timedelta64[D]"),
            "members_count": outcome.members_count[idx].astype(np.int64),
        }
    )
    for name, values in outcome.income.items():
        frame[name] = np.round(values[idx], 0)
    return frame[observed[idx]].reset_index(drop=True)


def _status(status: dict[str, object], member_ids: pa.Array) -> pd.DataFrame:
    cols = dict(status)
    member = np.asarray(cols.pop("member"))
    frame = pd.DataFrame({"member_id": _take(member_ids, member)})
    for name, values in cols.items():
        if name in ("disability_grade", "migrant_work_months", "public_welfare_post_months"):
            frame[name] = pd.array(np.asarray(values), dtype="Float64").astype("Int64")
        else:
            frame[name] = values  # type: ignore[call-overload]  # categoricals and arrays alike
    return frame


def _housing_checks(
    year: int,
    state: State,
    active: np.ndarray,
    share: float,
    area: np.ndarray,
    ids: pa.Array,
    rng: np.random.Generator,
) -> pd.DataFrame:
    idx = np.flatnonzero(active & (rng.random(len(active)) < share))
    return pd.DataFrame(
        {
            "household_id": _take(ids, idx),
            "check_date": np.datetime64(f"{year}-09-01") + rng.integers(0, 110, len(idx)).astype("timedelta64[D]"),
            "housing_grade": np.array(list("ABCD"))[state.hh_housing[idx]],
            "housing_area_m2": area[idx],
        }
    )


def _water_checks(
    year: int,
    state: State,
    active: np.ndarray,
    share: float,
    ids: pa.Array,
    rng: np.random.Generator,
) -> pd.DataFrame:
    idx = np.flatnonzero(active & (rng.random(len(active)) < share * 0.85))
    ok = state.hh_water_ok[idx]
    which = rng.integers(0, 4, len(idx))
    return pd.DataFrame(
        {
            "household_id": _take(ids, idx),
            "check_date": np.datetime64(f"{year}-04-01") + rng.integers(0, 150, len(idx)).astype("timedelta64[D]"),
            "quantity_ok": ok | (which != 0),
            "quality_ok": ok | (which != 1),
            "convenience_ok": ok | (which != 2),
            "reliability_ok": ok | (which != 3),
        }
    )


def _open_spells(pop: Population, state: State) -> SpellLog:
    """Spells still running at the end of the data: dibao and disability subsidies."""
    spells = SpellLog()
    on = np.flatnonzero(state.hh_dibao_monthly > 0)
    spells.add("dibao", on, state.hh_dibao_start[on], None, monthly=state.hh_dibao_monthly[on])
    dis = np.flatnonzero(~np.isnat(state.disability_spell_start))
    spells.add(
        "disability_subsidy",
        pop.m_household[dis],
        state.disability_spell_start[dis],
        None,
        dis,
        monthly=np.full(len(dis), 90.0),
    )
    return spells
