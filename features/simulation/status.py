"""The member_status record of a year: health, disability, labour skill, schooling, migrant work, insurance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.simulation.context import YearContext
from features.simulation.schooling import STAGES
from features.simulation.state import PLACES

# Health combinations by code serious*4 + chronic*2 + disabled (contract order: serious|chronic|disabled).
_HEALTH = (
    "healthy",
    "disabled",
    "chronic",
    "chronic|disabled",
    "serious",
    "serious|disabled",
    "serious|chronic",
    "serious|chronic|disabled",
)
_SKILLS = ("skilled", "ordinary", "weak", "lost", "none")


def _categorical(codes: np.ndarray, labels: tuple[str, ...], missing: np.ndarray | None = None) -> pd.Categorical:
    codes = codes.astype(np.int8)
    if missing is not None:
        codes = np.where(missing, -1, codes).astype(np.int8)
    return pd.Categorical.from_codes(codes, categories=list(labels))  # type: ignore[call-overload]


def member_status(
    ctx: YearContext,
    stage: np.ndarray,
    serious: np.ndarray,
    weight: np.ndarray,
    migrant: np.ndarray,
    months: np.ndarray,
    post_months: np.ndarray,
) -> dict[str, object]:
    """The member_status columns of the members alive at the end of the year."""
    year, pop, state, age = ctx.year, ctx.pop, ctx.state, ctx.age
    alive = np.flatnonzero(state.m_alive)
    grade = pop.m_disability_grade[alive]
    ser = serious[alive]
    health = ser * 4 + pop.m_chronic[alive] * 2 + (grade > 0)
    w = weight[alive]
    skill = np.where(
        w >= 1,
        np.where(pop.m_skilled[alive], 0, 1),
        np.where(w > 0, 2, np.where(ser | ((grade >= 1) & (grade <= 2)), 3, 4)),
    )
    mig = migrant[alive]
    mig_months = np.where(mig, np.round(months[alive]), 0).astype(float)
    n = len(alive)
    return {
        "member": alive,
        "survey_year": np.full(n, year),
        "recorded_date": ctx.dates(n, 334, 353),  # December: the yearly information collection
        "schooling_stage": _categorical(stage[alive], STAGES),
        "health": _categorical(health, _HEALTH, pop.m_missing_health[alive]),
        "disability_grade": np.where(grade > 0, grade, np.nan),
        "labour_skill": _categorical(skill, _SKILLS, pop.m_missing_skill[alive]),
        "migrant_work_months": np.where(age[alive] >= 16, mig_months, np.nan),
        "migrant_work_place": _categorical(state.m_place[alive], PLACES, ~(mig & (mig_months > 0))),
        "basic_medical_insurance": pop.m_insured[alive],
        "pension_insurance": np.where((age[alive] >= 16), pop.m_pension[alive], False),
        "public_welfare_post_months": post_months[alive].astype(float),
    }
