"""The monitoring process of the synthetic city: who gets identified, when, why, and when risk ends.

A household becomes a *case* when, as the verification sees it (income measured with error), its
per-capita income after rigid expenditure falls under the year's monitoring line, when a rigid-expenditure
trigger of docs/domain.md §3 fires while its capacity to cope is low, or when its income halves. A case is
*discovered* through one of the three channels with a probability below one and a delay; a few households
are identified without a case (verification is imperfect both ways). Risk types are the causes ranked by the
money they cost the household this year — the ground truth the explanations are checked against.

Risk elimination is reviewed once a year: a household is eliminated when its tentative date has come, its
income, as measured, is back above the line, its house and drinking water are safe, and it has been monitored for
at least six months — the half year of stable income the policy asks for (docs/domain.md §17); households without
labour only through assistance (docs/domain.md §4), and never without a safety-net transfer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from features.contract.codes import DISASTER_RISK_TYPE
from features.simulation.config import CityConfig
from features.simulation.population import Population
from features.simulation.records import _take, make_ids
from features.simulation.state import CAUSES, LACK_LABOUR, State, YearOutcome

_NAT = np.datetime64("NaT")
# assumed: "at least half a year" of stable income above the line (docs/domain.md §17) read as 183 days.
STABLE_DAYS = 183
# Monthly hazards of the tentative elimination after the first three months (assumed): households with labour and
# a passing shock, with labour and a lasting cause, without labour.
TENTATIVE_HAZARDS = (1.2, 0.7, 0.2)


@dataclass
class MonitoringLog:
    """Identification records; elimination dates are filled in by later yearly reviews."""

    n_households: int
    parts: list[dict[str, np.ndarray]] = field(default_factory=list)
    elimination: np.ndarray = field(default_factory=lambda: np.zeros(0, "datetime64[D]"))
    tentative: np.ndarray = field(default_factory=lambda: np.zeros(0, "datetime64[D]"))
    identified: np.ndarray = field(default_factory=lambda: np.zeros(0, "datetime64[D]"))
    way: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    record: np.ndarray = field(init=False)  # current record per household, -1 when not monitored

    def __post_init__(self) -> None:
        self.record = np.full(self.n_households, -1)

    def to_frames(self, household_ids: pa.Array, data_end: np.datetime64) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The `identifications` table and the ground-truth causes (tests only), as recorded before `data_end`.

        Rows are numbered in date order, so a later extract of the same city keeps every earlier row's id."""
        cols = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        cols["elimination_date"] = self.elimination
        cols["elimination_way"] = self.way
        order = np.lexsort((cols["household"], cols["identified_date"]))
        order = order[cols["identified_date"][order] < data_end]
        cols = {k: v[order] for k, v in cols.items()}
        ids = pd.Series(make_ids("ID", len(order)), dtype=pd.ArrowDtype(pa.string()))
        hh_ids = _take(household_ids, cols["household"])
        table = pd.DataFrame(
            {
                "identification_id": ids,
                "household_id": hh_ids,
                "identified_date": cols["identified_date"],
                "monitoring_type": cols["monitoring_type"],
            }
        )
        for i in range(5):
            table[f"risk_type_{i + 1}"] = pd.Series(cols["risk_types"][:, i], dtype="string").replace("", pd.NA)
        table["discovery_channel"] = cols["channel"]
        table["elimination_date"] = cols["elimination_date"]
        table["elimination_way"] = pd.Series(cols["elimination_way"], dtype="string").replace("", pd.NA)
        truth = pd.DataFrame(
            {
                "identification_id": ids,
                "household_id": hh_ids,
                "trigger": cols["trigger"],
                "dominant_cause": cols["risk_types"][:, 0],
                "dominant_share": np.round(cols["dominant_share"], 4),
                "single_dominant": cols["dominant_share"] >= 0.7,
            }
        )
        return table, truth


def review_eliminations(
    year: int,
    state: State,
    outcome: YearOutcome,
    config: CityConfig,
    rng: np.random.Generator,
    log: MonitoringLog,
) -> None:
    """The yearly review: eliminate recovered households whose tentative date falls in this year or before."""
    year_start, year_end = np.datetime64(f"{year}-01-01"), np.datetime64(f"{year}-12-31")
    # Households eliminated last year leave monitoring now.
    if not len(log.elimination):
        return
    ended = (log.record >= 0) & ~np.isnat(log.elimination[np.maximum(log.record, 0)])
    state.hh_monitored[ended] = False
    log.record[ended] = -1
    hh = np.flatnonzero(log.record >= 0)
    rec = log.record[hh]
    due = log.tentative[rec] <= year_end
    line = config.monitoring_lines[year]
    observed = outcome.income_pc[hh] * rng.lognormal(0, 0.1, len(hh)) - outcome.oop[hh] / outcome.members_count[hh]
    has_labour = outcome.labour_weight[hh] >= 1
    safety_net = (state.hh_dibao_monthly[hh] > 0) | state.hh_tekun[hh]
    # The three guarantees as the checks see them: a C/D house or unsafe water keeps the household monitored.
    secure = (state.hh_housing[hh] < 2) & state.hh_water_ok[hh]
    recovered = (observed > line) & (has_labour | safety_net) & secure
    # Half a year of stable income after the identification before the risk counts as eliminated.
    stable_from = log.identified[rec] + np.timedelta64(STABLE_DAYS, "D")
    date = np.maximum(log.tentative[rec], year_start + rng.integers(0, 120, len(hh)).astype("timedelta64[D]"))
    date = np.maximum(date, stable_from)
    go = due & recovered & (date <= year_end)
    log.elimination[rec[go]] = date[go]
    natural = has_labour[go] & ~safety_net[go] & (rng.random(go.sum()) < 0.4)
    log.way[rec[go]] = np.where(natural, "natural", "assisted")
    # Not yet recovered: look again in a year. Recovered but not yet six months on: the next review decides.
    later = due & ~recovered
    log.tentative[rec[later]] += 365


def identify(
    year: int,
    pop: Population,
    state: State,
    outcome: YearOutcome,
    config: CityConfig,
    rng: np.random.Generator,
    log: MonitoringLog,
) -> None:
    """This year's identifications, appended to `log`. Every case found is recorded and followed, however late its
    date: the extract date only decides what the tables show (`MonitoringLog.to_frames`), never what happens, so
    a city extended by a year repeats its earlier years draw for draw."""
    n = pop.n_households
    pa_ = pop.hh_poverty_alleviated
    line = config.monitoring_lines[year]
    members = outcome.members_count
    rigid_spend = outcome.oop + np.maximum(outcome.education_cost - 4_000, 0)
    adjusted = outcome.income_pc - rigid_spend / members
    observed = adjusted * rng.lognormal(0, 0.1, n)
    prior = config.rural_income_prior_year[year]
    rigid = (
        outcome.oop > np.where(pa_, config.yearly_oop_share_poverty_alleviated, config.yearly_oop_share_other) * prior
    ) | (
        outcome.max_stay_oop
        > np.where(pa_, config.single_stay_oop_poverty_alleviated_yuan, config.single_stay_oop_other_yuan)
    )
    # "Income in the monitoring range *and* at risk" (docs/domain.md §2): a costed risk, weak labour or a
    # safety-net transfer must go with the low income.
    other_causes = [c for c in range(len(CAUSES)) if c != LACK_LABOUR]
    costed = outcome.impact[:, other_causes].sum(axis=1)
    at_risk = (costed > np.where(pa_, 1_000, 2_500)) | (outcome.labour_weight < 1) | (state.hh_dibao_monthly > 0)
    income_case = (observed < line) & at_risk
    sudden_case = rigid & (observed < np.where(pa_, 2.0, 1.3) * line)
    prev = state.hh_prev_income_pc  # last year's; NaN in the first year
    with np.errstate(invalid="ignore"):
        drop_case = (prev > 0) & (outcome.income_pc < 0.5 * prev) & (observed < 1.6 * line)
    open_ = ~state.hh_monitored & ~state.hh_dissolved
    case = open_ & (income_case | sudden_case | drop_case)
    p_find = config.discovery_probability * np.where(pa_, 0.6, 0.2)
    found = case & (rng.random(n) < p_find)
    spurious = open_ & ~case & (rng.random(n) < config.spurious_identification_rate)

    shock = ~np.isnat(outcome.shock_date) & (costed > 3_000)
    delay = rng.exponential(config.mean_discovery_delay_days, n).astype(int) + 15
    year_end_check = np.datetime64(f"{year}-12-10") + rng.integers(0, 20, n).astype("timedelta64[D]")
    when = np.where(
        found & shock,
        outcome.shock_date + delay.astype("timedelta64[D]"),
        year_end_check + (delay // 2).astype("timedelta64[D]"),
    )
    random_day = np.datetime64(f"{year}-01-01") + rng.integers(0, 365, n).astype("timedelta64[D]")
    when = np.where(spurious, random_day, when).astype("datetime64[D]")
    chosen = np.flatnonzero(found | spurious)
    if not len(chosen):
        return
    state.hh_monitored[chosen] = True
    codes, share = risk_types(outcome, chosen)
    trigger = np.select(
        [spurious[chosen], income_case[chosen], sudden_case[chosen]],
        ["spurious", "income", "rigid_expenditure"],
        "income_drop",
    )
    monitoring_type = np.where(
        pa_[chosen], "unstable", np.where(outcome.income_pc[chosen] >= line, "sudden", "marginal")
    )
    channel = np.where(
        shock[chosen] & (rng.random(len(chosen)) < 0.55),
        "department",
        np.where(rng.random(len(chosen)) < 0.7, "grassroots", "self_report"),
    )
    # Tentative elimination: after at least four months of assistance, sooner for passing shocks.
    labour = outcome.labour_weight[chosen] >= 1
    transitory = ~np.isin(codes[:, 0], ["03", "04", "99"])
    passing, lasting, no_labour = TENTATIVE_HAZARDS
    hazard = np.where(labour, np.where(transitory, passing, lasting), no_labour)
    months = 3 + rng.exponential(1 / hazard)
    tentative = (when[chosen] + (months * 30.4).astype(int).astype("timedelta64[D]")).astype("datetime64[D]")
    first = len(log.elimination)
    log.record[chosen] = np.arange(first, first + len(chosen))
    log.elimination = np.concatenate([log.elimination, np.full(len(chosen), _NAT, "datetime64[D]")])
    log.tentative = np.concatenate([log.tentative, tentative])
    log.identified = np.concatenate([log.identified, when[chosen].astype("datetime64[D]")])
    log.way = np.concatenate([log.way, np.full(len(chosen), "", dtype=object)])
    log.parts.append(
        {
            "household": chosen,
            "identified_date": when[chosen],
            "monitoring_type": monitoring_type,
            "risk_types": codes,
            "channel": channel,
            "trigger": trigger,
            "dominant_share": share,
        }
    )


def finish(log: MonitoringLog, data_end: np.datetime64) -> None:
    """Eliminations dated after the end of the data are not known yet."""
    late = log.elimination >= data_end
    log.elimination[late] = _NAT
    log.way[late] = ""


def risk_types(outcome: YearOutcome, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Up to five risk types, ranked by what each cause cost the household; and the top cause's share."""
    impact = outcome.impact[chosen]
    order = np.argsort(-impact, axis=1, kind="stable")
    ranked = np.take_along_axis(impact, order, axis=1)
    codes = np.array(CAUSES, dtype=object)[order]
    disaster_code = np.array([DISASTER_RISK_TYPE.get(k, "0207") for k in outcome.disaster_kind[chosen]], dtype=object)
    codes = np.where(codes == "02", disaster_code[:, None], codes)
    keep = (ranked > 1_000) & (ranked >= 0.1 * ranked[:, :1])
    codes = np.where(keep, codes, "")[:, :5]
    # No costed cause: a low income from weak labour is "lack of labour", from work that does not pay
    # enough "unstable employment"; a household with neither is "other".
    no_cause = codes[:, 0] == ""
    weight = outcome.labour_weight[chosen][no_cause]
    works = (outcome.income["wage_migrant_yuan"] + outcome.income["wage_local_yuan"])[chosen][no_cause] > 0
    codes[no_cause, 0] = np.where(weight < 1.5, "04", np.where(works, "07", "99"))
    total = np.where(keep, ranked, 0).sum(axis=1)
    share = np.where(no_cause, 1.0, ranked[:, 0] / np.maximum(total, 1))
    return codes, share
