"""Member-level features: composition, labour, health, disability, schooling, work and insurance.

Members count from their birth to their death: a member born on or after `as_of`, or with a death event
before it, is left out. Each member's attributes come from their latest yearly status recorded before
`as_of` (and at most STATUS_LOOKBACK_MONTHS old); a member without one counts in the "missing" counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract import codes
from features.profiles._context import STATUS_LOOKBACK_MONTHS, Columns, Context, ratio
from features.profiles._keys import SMALL, KeyIndex, arrow_strings, code_index, days, floats, latest_rows

_SKILLS = list(codes.LABOUR_SKILLS)
_STAGES = list(codes.SCHOOLING_STAGES)
_EDUCATION = list(codes.EDUCATION_LEVELS)  # ordered: its position is the level 0–6
_ABLE = (_SKILLS.index("skilled"), _SKILLS.index("ordinary"))
_WEAK = _SKILLS.index("weak")
_NONE = (_SKILLS.index("lost"), _SKILLS.index("none"))
_COMPULSORY = (_STAGES.index("primary"), _STAGES.index("junior"))
_SENIOR = (_STAGES.index("senior"), _STAGES.index("secondary_vocational"))
_HIGHER = (_STAGES.index("higher_vocational"), _STAGES.index("undergraduate_plus"))


def member_features(
    ctx: Context, members: pd.DataFrame, status: pd.DataFrame, events: pd.DataFrame
) -> tuple[Columns, np.ndarray]:
    """The member features and, for later parts, the member count per household."""
    hh = ctx.household_positions(members)
    birth = days(members["birth_date"])
    index = KeyIndex(members["member_id"])
    dead = _died_before(ctx, index, events)
    alive = (hh >= 0) & (birth < ctx.day) & ~dead
    age = _age_at(birth, ctx.as_of)
    st = _latest_status(ctx, index, status, alive)

    def count(mask: np.ndarray) -> np.ndarray:
        return ctx.count(hh, alive & mask)

    working = (age >= 16) & (age <= 64)
    skill = st["labour_skill"]
    stage = st["schooling_stage"]
    has_status = st["row"] >= 0
    out: Columns = {
        "members_count": count(np.ones(len(hh), bool)),
        "children_count": count(age < 16),
        "elderly_count": count(age >= 60),
        "working_age_count": count(working),
        "labour_capable_count": count(working & np.isin(skill, _ABLE)),
        "weak_labour_count": count(skill == _WEAK),
        "no_labour_count": count((age >= 16) & np.isin(skill, _NONE)),
        "labour_skill_missing_count": count(skill < 0),
        "chronic_count": count(st["chronic"]),
        "serious_illness_count": count(st["serious"]),
        "health_missing_count": count(~st["health_known"]),
        "disabled_count": count(st["disabled"]),
        "severe_disability_count": count(st["grade"] <= 2),
        "migrant_workers_count": count(st["migrant_months"] > 0),
        "out_province_workers_count": count((st["migrant_months"] > 0) & st["out_province"]),
        "students_preschool_count": count(stage == _STAGES.index("preschool")),
        "students_compulsory_count": count(np.isin(stage, _COMPULSORY)),
        "students_senior_count": count(np.isin(stage, _SENIOR)),
        "students_higher_count": count(np.isin(stage, _HIGHER)),
        # docs/domain.md §5 compulsory education: no child aged 6–15 out of school.
        "children_out_of_school_count": count((age >= 6) & (age <= 15) & (stage == _STAGES.index("not_in_school"))),
        "uninsured_count": count(st["medical_insurance"] == 0),
        "pension_uninsured_adults_count": count((age >= 16) & (st["pension"] == 0)),
    }
    with_status = count(has_status) > 0
    for name, column in (
        ("migrant_work_months", "migrant_months"),
        ("public_welfare_post_months", "post_months"),
    ):
        out[name] = np.where(with_status, ctx.total(hh, st[column], alive), np.nan)
    # Whole household without labour: nobody recorded as able, weak or half labour, and nobody of working
    # age whose skill is unrecorded (an unrecorded skill does not prove the absence of labour).
    some_labour = count(np.isin(skill, (*_ABLE, _WEAK))) + count(working & (skill < 0))
    out["no_labour_household"] = (some_labour == 0).astype(float)
    out["labour_units"] = ctx.total(hh, _labour_units(age, skill, stage, st), alive)
    dependants = count((age < 16) | (age >= 65))
    out["dependency_ratio"] = ratio(dependants.astype(float), out["working_age_count"].astype(float))
    out.update(_head(ctx, members, hh, alive, age))
    education = code_index(members["education"], _EDUCATION).astype(float)
    education[education < 0] = np.nan
    adult = alive & (age >= 16) & ~np.isnan(education)
    best = np.full(ctx.n, np.nan)
    np.fmax.at(best, hh[adult], education[adult])
    out["max_adult_education_level"] = best
    return out, out["members_count"]


def _labour_units(age: np.ndarray, skill: np.ndarray, stage: np.ndarray, st: dict[str, np.ndarray]) -> np.ndarray:
    """Each member's labour capacity in full-labourer units: 1 able, ½ weak or half labour, 0 none.

    The recorded labour skill decides where there is one. Half of the members have none (docs/domain.md §6), so
    for them the capacity is estimated from what is recorded more often, the way a village official would:
    16–64 and not in school counts as able, 65–74 as half; a serious illness or a grade 1–2 disability takes
    all capacity, a chronic illness after 55 or a grade 3–4 disability half; under 16, 75 and over, none.
    """
    severe = st["serious"] | (st["grade"] <= 2)
    reduced = (st["chronic"] & (age > 55)) | (st["grade"] >= 3)
    in_school = stage > _STAGES.index("not_in_school")
    estimate = np.select(
        [(age < 16) | (age >= 75) | np.isnan(age) | severe | in_school, reduced | (age >= 65)],
        [0.0, 0.5],
        1.0,
    )
    recorded = np.select([np.isin(skill, _ABLE), skill == _WEAK], [1.0, 0.5], 0.0)
    return np.where(skill >= 0, recorded, estimate)


def _died_before(ctx: Context, index: KeyIndex, events: pd.DataFrame) -> np.ndarray:
    deaths = np.flatnonzero((code_index(events["event_type"], ["death"]) == 0) & (days(events["event_date"]) < ctx.day))
    dead = np.zeros(index.size, bool)
    who = index.positions(events["member_id"], deaths)
    dead[who[who >= 0]] = True
    return dead


def _age_at(birth: np.ndarray, as_of: pd.Timestamp) -> np.ndarray:
    """Age in completed years on `as_of` (NaN when the birth date is missing)."""
    known = ~np.isnan(birth)
    b = np.where(known, birth, 0).astype("datetime64[D]")
    year = b.astype("datetime64[Y]").astype(np.int64) + 1970
    month = b.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (b - b.astype("datetime64[M]")).astype(np.int64) + 1
    before_birthday = (as_of.month * 32 + as_of.day) < (month * 32 + day)
    age = (as_of.year - year - before_birthday).astype(float)
    age[~known] = np.nan
    return age


def _latest_status(ctx: Context, index: KeyIndex, status: pd.DataFrame, alive: np.ndarray) -> dict[str, np.ndarray]:
    """Per member, the fields of their latest status row before as_of (−1 / NaN / False when none)."""
    m = index.size
    recorded = days(status["recorded_date"])
    visible = np.flatnonzero((recorded < ctx.day) & (recorded >= ctx.months_back(STATUS_LOOKBACK_MONTHS)))
    member = index.positions(status["member_id"], visible)
    ok = member >= 0
    ok[ok] = alive[member[ok]]
    member = np.where(ok, member, -1)
    order = floats(status["survey_year"])[visible] * 100_000 + recorded[visible]
    pick = latest_rows(member, np.nan_to_num(order, nan=-1.0), m)
    has = pick >= 0
    # Only the chosen rows' other columns are read: a fraction of a table that can hold tens of millions.
    chosen = visible[pick[has]]

    def spread(values: np.ndarray, fill: float | int | bool) -> np.ndarray:
        out = np.full(m, fill, dtype=float if isinstance(fill, float) else np.asarray(values).dtype)
        out[has] = values
        return out

    def codes_of(name: str, categories: list[str]) -> np.ndarray:
        return spread(code_index(status[name], categories, chosen), -1)

    def numbers(name: str) -> np.ndarray:
        return spread(floats(status[name])[chosen], np.nan)

    health = _health_flags(status["health"], chosen)
    grade = numbers("disability_grade")
    return {
        "row": spread(np.arange(len(chosen)), -1),
        "labour_skill": codes_of("labour_skill", _SKILLS),
        "schooling_stage": codes_of("schooling_stage", _STAGES),
        "health_known": spread(health["known"], False),
        "chronic": spread(health["chronic"], False),
        "serious": spread(health["serious"], False),
        "disabled": spread(health["disabled"], False) | ~np.isnan(grade),
        "grade": grade,
        "migrant_months": numbers("migrant_work_months"),
        "out_province": codes_of("migrant_work_place", ["out_province"]) == 0,
        "post_months": numbers("public_welfare_post_months"),
        "medical_insurance": numbers("basic_medical_insurance"),
        "pension": numbers("pension_insurance"),
    }


def _health_flags(health: pd.Series, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Health is a combination such as "chronic|disabled": decode each distinct combination once."""
    if len(health) <= SMALL:
        taken = health.to_numpy(dtype=object)[rows]
        combos = sorted({v for v in taken if isinstance(v, str)})
        index = code_index(pd.Series(taken, dtype=object), combos)
    else:
        encoded = pc.dictionary_encode(arrow_strings(health).take(pa.array(rows, type=pa.int64())))
        combos = encoded.dictionary.to_pylist()
        index = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    flags: dict[str, np.ndarray] = {"known": index >= 0}
    for state in ("chronic", "serious", "disabled"):
        table = np.array([state in str(c).split("|") for c in combos] + [False], dtype=bool)
        flags[state] = table[index]  # index −1 reads the trailing False
    return flags


def _head(ctx: Context, members: pd.DataFrame, hh: np.ndarray, alive: np.ndarray, age: np.ndarray) -> Columns:
    """The living head's age, gender, education and ethnicity (the first listed head if several)."""
    is_head = alive & (code_index(members["relation_to_head"], ["head"]) == 0)
    rows = np.arange(len(hh), dtype=float)
    head = latest_rows(np.where(is_head, hh, -1), -rows, ctx.n)
    has = head >= 0
    at = head[has]

    def pick(values: np.ndarray) -> np.ndarray:
        out = np.full(ctx.n, np.nan)
        out[has] = values[at]
        return out

    gender = code_index(members["gender"], ["female", "male"]).astype(float)
    ethnicity = code_index(members["ethnicity"], list(codes.ETHNICITIES)).astype(float)
    education = code_index(members["education"], _EDUCATION).astype(float)
    for values in (gender, ethnicity, education):
        values[values < 0] = np.nan
    minority = np.where(np.isnan(ethnicity), np.nan, (ethnicity != 0).astype(float))  # 0 = han
    return {
        "head_age": pick(age),
        "head_male": pick(gender),
        "head_education_level": pick(education),
        "minority_head": pick(minority),
    }
