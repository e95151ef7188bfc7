"""Labour capacity per member (features.profiles._members._labour_units): recorded skill first, else estimated."""

from __future__ import annotations

import numpy as np
import pytest

from features.contract import codes
from features.profiles._members import _labour_units

SKILLS = list(codes.LABOUR_SKILLS)
STAGES = list(codes.SCHOOLING_STAGES)
NAN = float("nan")


@pytest.mark.parametrize(
    ("age", "skill", "stage", "serious", "chronic", "grade", "expected"),
    [
        # Recorded skill decides, whatever age and health say.
        (40, "skilled", "not_in_school", False, False, NAN, 1.0),
        (70, "ordinary", "not_in_school", False, False, NAN, 1.0),
        (40, "weak", "not_in_school", False, False, NAN, 0.5),
        (40, "lost", "not_in_school", False, False, NAN, 0.0),
        (30, "none", "not_in_school", False, False, NAN, 0.0),
        # Unrecorded skill: estimated from age, health, disability and schooling.
        (40, None, "not_in_school", False, False, NAN, 1.0),
        (16, None, "not_in_school", False, False, NAN, 1.0),
        (17, None, "senior", False, False, NAN, 0.0),
        (15, None, "not_in_school", False, False, NAN, 0.0),
        (64, None, "not_in_school", False, False, NAN, 1.0),
        (65, None, "not_in_school", False, False, NAN, 0.5),
        (74, None, "not_in_school", False, False, NAN, 0.5),
        (75, None, "not_in_school", False, False, NAN, 0.0),
        (40, None, "not_in_school", True, False, NAN, 0.0),
        (40, None, "not_in_school", False, False, 2.0, 0.0),
        (40, None, "not_in_school", False, False, 3.0, 0.5),
        (55, None, "not_in_school", False, True, NAN, 1.0),
        (56, None, "not_in_school", False, True, NAN, 0.5),
        (NAN, None, "not_in_school", False, False, NAN, 0.0),
        (40, None, None, False, False, NAN, 1.0),  # no status row at all
    ],
)
def test_labour_units(
    age: float, skill: str | None, stage: str | None, serious: bool, chronic: bool, grade: float, expected: float
) -> None:
    status = {
        "serious": np.array([serious]),
        "chronic": np.array([chronic]),
        "grade": np.array([grade]),
    }
    units = _labour_units(
        np.array([float(age)]),
        np.array([SKILLS.index(skill) if skill else -1]),
        np.array([STAGES.index(stage) if stage else -1]),
        status,
    )
    assert units.tolist() == [expected]
