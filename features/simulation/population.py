"""The households and members of the synthetic city at its start (1 January of the first year).

Latent traits that the source systems never record (ability, migrant propensity, the support children
send home) live here too: they are what makes a good model useful but far from perfect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.simulation.config import CityConfig
from features.simulation.geography import Geography

# Household archetypes (index into CityConfig.archetype_shares).
ELDER_ALONE, ELDER_COUPLE, MIDDLE_COUPLE, NUCLEAR, THREE_GENERATION, SINGLE_ADULT = range(6)

# Relation codes by integer for speed; the table writer maps them to contract codes.
RELATION_CODES = np.array(["head", "spouse", "child", "parent", "grandchild", "sibling"])
HEAD, SPOUSE, CHILD, PARENT = 0, 1, 2, 3


@dataclass
class Population:
    """Arrays, one entry per household (`hh_*`) or per member (`m_*`)."""

    hh_village: np.ndarray
    hh_county: np.ndarray
    hh_poverty_alleviated: np.ndarray
    hh_archetype: np.ndarray
    hh_ability: np.ndarray  # latent, standard normal shifted down for poverty-alleviated households
    hh_registration_year: np.ndarray  # float, NaN when not registered
    hh_exit_year: np.ndarray
    hh_relocated: np.ndarray
    hh_land_mu: np.ndarray
    hh_orchard_mu: np.ndarray
    hh_livestock_scale: np.ndarray  # yuan of yearly livestock receipts when things go well (0 = none)
    hh_other_business: np.ndarray  # yuan of yearly facility/shop receipts (0 = none)
    hh_elder_support: np.ndarray  # yuan sent home by children living elsewhere (transfer_other)
    hh_eco_compensation: np.ndarray
    hh_minority: np.ndarray

    m_household: np.ndarray
    m_relation: np.ndarray
    m_male: np.ndarray
    m_birth: np.ndarray  # datetime64[D]
    m_ethnicity: np.ndarray  # contract code
    m_education: np.ndarray  # contract code or "" (under six)
    m_skilled: np.ndarray
    m_migrant_propensity: np.ndarray
    m_chronic: np.ndarray
    m_disability_grade: np.ndarray  # 0 = none, else 1..4
    m_insured: np.ndarray
    m_pension: np.ndarray
    m_missing_health: np.ndarray  # persistent gaps in the recorded data, per member
    m_missing_skill: np.ndarray
    m_missing_education: np.ndarray

    @property
    def n_households(self) -> int:
        return len(self.hh_village)

    @property
    def n_members(self) -> int:
        return len(self.m_household)


def _ages_to_birth(rng: np.random.Generator, ages: np.ndarray, start: np.datetime64) -> np.ndarray:
    days = (ages * 365.25 + rng.uniform(0, 365, len(ages))).astype("int64")
    return start - days.astype("timedelta64[D]")


def build_population(config: CityConfig, geo: Geography, rng: np.random.Generator) -> Population:
    n = config.households
    start = np.datetime64(f"{config.first_year}-01-01", "D")
    n_villages = len(geo.villages)
    village_size = rng.dirichlet(np.full(n_villages, 20.0))
    hh_village = np.sort(rng.choice(n_villages, size=n, p=village_size))
    hh_county = geo.county_of_village[hh_village]
    village_type = geo.villages["village_type"].to_numpy()[hh_village]
    pa_share = np.vectorize(config.poverty_alleviated_share.get)(village_type).astype(float)
    poverty_alleviated = rng.random(n) < pa_share

    shares = np.asarray(config.archetype_shares) / np.sum(config.archetype_shares)
    archetype = rng.choice(len(shares), size=n, p=shares)
    ability = rng.normal(np.where(poverty_alleviated, -0.7, 0.0), 1.0)

    registration = np.where(
        poverty_alleviated, rng.choice([2014, 2015, 2016, 2017], n, p=[0.6, 0.2, 0.12, 0.08]), np.nan
    )
    exit_year = np.where(
        poverty_alleviated, np.maximum(registration + 1 + rng.poisson(2.0, n), 2016).clip(max=2020), np.nan
    )
    settlement = geo.villages["relocation_settlement"].to_numpy()[hh_village]
    relocated = poverty_alleviated & (rng.random(n) < np.where(settlement, 0.8, 0.06))

    industry = geo.villages["main_industry"].to_numpy()[hh_village]
    land = np.round(rng.gamma(2.0, 3.0, n) * np.where(relocated, 0.3, 1.0), 1)
    orchard = np.where(
        (industry == "apple") & (rng.random(n) < 0.75),
        np.round(rng.gamma(3.0, 1.6, n), 1),
        np.where(rng.random(n) < 0.08, np.round(rng.gamma(2.0, 1.0, n), 1), 0.0),
    )
    livestock = np.where(
        rng.random(n) < np.where(industry == "livestock", 0.45, 0.08),
        rng.lognormal(np.log(18_000), 0.7, n),
        0.0,
    )
    other_business = np.where(
        rng.random(n) < np.where(industry == "facility_agriculture", 0.45, 0.06),
        rng.lognormal(np.log(25_000), 0.6, n),
        0.0,
    )
    elderly = np.isin(archetype, [ELDER_ALONE, ELDER_COUPLE])
    elder_support = np.where(
        elderly & (rng.random(n) < 0.92),
        rng.lognormal(np.log(7_000), 0.6, n),
        np.where(rng.random(n) < 0.35, rng.lognormal(np.log(2_500), 0.8, n), 0.0),
    )
    eco = np.where(rng.random(n) < 0.4, np.round(rng.uniform(300, 2_500, n), -1), 0.0)
    minority_village = rng.random(n_villages) < config.minority_village_share
    minority = np.where(minority_village[hh_village], rng.random(n) < 0.7, rng.random(n) < 0.01)

    members = _build_members(rng, archetype, poverty_alleviated, ability, minority, start)
    m = len(members["m_household"])
    # Gaps in the recorded member fields persist across years for a member (the same clerk, the same form).
    members["m_missing_health"] = rng.random(m) < config.missing_health
    members["m_missing_skill"] = rng.random(m) < config.missing_labour_skill
    members["m_missing_education"] = rng.random(m) < config.missing_education
    return Population(
        hh_village=hh_village,
        hh_county=hh_county,
        hh_poverty_alleviated=poverty_alleviated,
        hh_archetype=archetype,
        hh_ability=ability,
        hh_registration_year=registration,
        hh_exit_year=exit_year,
        hh_relocated=relocated,
        hh_land_mu=land,
        hh_orchard_mu=orchard,
        hh_livestock_scale=livestock,
        hh_other_business=other_business,
        hh_elder_support=elder_support,
        hh_eco_compensation=eco,
        hh_minority=minority,
        **members,
    )


def _build_members(
    rng: np.random.Generator,
    archetype: np.ndarray,
    poverty_alleviated: np.ndarray,
    ability: np.ndarray,
    minority: np.ndarray,
    start: np.datetime64,
) -> dict[str, np.ndarray]:
    n = len(archetype)
    hh = np.arange(n)
    head_age = np.select(
        [
            archetype == ELDER_ALONE,
            archetype == ELDER_COUPLE,
            archetype == MIDDLE_COUPLE,
            archetype == NUCLEAR,
            archetype == THREE_GENERATION,
        ],
        [
            rng.uniform(62, 90, n),
            rng.uniform(60, 84, n),
            rng.uniform(40, 60, n),
            rng.uniform(27, 54, n),
            rng.uniform(30, 55, n),
        ],
        rng.uniform(22, 60, n),
    )
    head_male = rng.random(n) < np.where(archetype == ELDER_ALONE, 0.45, 0.88)
    has_spouse = np.isin(archetype, [ELDER_COUPLE, MIDDLE_COUPLE, NUCLEAR, THREE_GENERATION]) & (
        rng.random(n) < np.where(archetype == THREE_GENERATION, 0.9, 0.96)
    )
    n_children = np.where(
        np.isin(archetype, [NUCLEAR, THREE_GENERATION]), rng.choice([1, 2, 3], n, p=[0.42, 0.47, 0.11]), 0
    )
    n_parents = np.where(archetype == THREE_GENERATION, rng.choice([1, 2], n, p=[0.55, 0.45]), 0)

    parts: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []  # (household, relation, age, male)
    parts.append((hh, HEAD, head_age, head_male))
    sp = hh[has_spouse]
    parts.append((sp, SPOUSE, np.clip(head_age[sp] + rng.normal(-2, 3, len(sp)), 18, 95), ~head_male[sp]))
    ch = np.repeat(hh, n_children)
    child_max = np.clip(head_age[ch] - 20, 0.5, 26)
    parts.append((ch, CHILD, rng.uniform(0, 1, len(ch)) * child_max, rng.random(len(ch)) < 0.52))
    pa_ = np.repeat(hh, n_parents)
    first = np.r_[True, pa_[1:] != pa_[:-1]] if len(pa_) else np.zeros(0, bool)
    parts.append((pa_, PARENT, np.clip(head_age[pa_] + rng.uniform(22, 32, len(pa_)), 55, 98), first))

    m_household = np.concatenate([p[0] for p in parts])
    m_relation = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    age = np.concatenate([p[2] for p in parts])
    m_male = np.concatenate([p[3] for p in parts])
    order = np.lexsort((m_relation, m_household))
    m_household, m_relation, age, m_male = m_household[order], m_relation[order], age[order], m_male[order]
    m = len(m_household)

    pa_m = poverty_alleviated[m_household]
    ab_m = ability[m_household] + rng.normal(0, 0.6, m)
    ethnicity = np.where(
        minority[m_household],
        rng.choice(["hui", "mongol", "manchu", "other_minority"], m, p=[0.6, 0.25, 0.1, 0.05]),
        "han",
    )
    education = _education(rng, age, ab_m)
    chronic_p = np.clip(0.01 + 0.007 * np.maximum(age - 30, 0), 0, 0.5) * np.where(pa_m, 1.3, 1.0)
    chronic = rng.random(m) < chronic_p
    disabled_p = (0.02 + 0.0012 * age) * np.where(pa_m, 1.8, 1.0)
    grade = np.where(rng.random(m) < disabled_p, rng.choice([1, 2, 3, 4], m, p=[0.1, 0.2, 0.35, 0.35]), 0)
    working_age = (age >= 18) & (age < 56)
    return {
        "m_household": m_household,
        "m_relation": m_relation,
        "m_male": m_male,
        "m_birth": _ages_to_birth(rng, age, start),
        "m_ethnicity": ethnicity,
        "m_education": education,
        "m_skilled": rng.random(m) < 1 / (1 + np.exp(-(ab_m - 0.8))),
        "m_migrant_propensity": np.where(working_age, 1 / (1 + np.exp(-(rng.normal(0.2, 1.2, m) + 0.4 * ab_m))), 0.0),
        "m_chronic": chronic,
        "m_disability_grade": grade,
        "m_insured": rng.random(m) < np.where(pa_m, 0.995, 0.965),
        "m_pension": rng.random(m) < 0.85,
    }


def _education(rng: np.random.Generator, age: np.ndarray, ability: np.ndarray) -> np.ndarray:
    levels = np.array(["illiterate", "primary", "junior", "senior", "vocational", "college", "bachelor_plus"])
    # Older cohorts had less schooling; ability shifts a person up or down the ladder.
    base = np.select([age >= 60, age >= 40, age >= 25], [0.8, 2.0, 2.9], 3.1)
    score = np.clip(np.round(base + 0.6 * ability + rng.normal(0, 0.9, len(age))), 0, 6).astype(int)
    out = levels[score].astype(object)
    out[age < 6] = ""
    young = (age >= 6) & (age < 16)
    out[young] = np.where(age[young] < 12, "primary", "junior")
    return out.astype(str)
