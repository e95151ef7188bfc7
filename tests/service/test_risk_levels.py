"""What a model's probability estimates follows its label: names, purposes and the default risk levels."""

from __future__ import annotations

import pytest

from models.outcomes import LEGACY_LABEL, level_thresholds, name, purpose
from models.risk_model import RiskModel
from service.scoring import risk_level
from service.tables import RiskLevel


def test_each_label_gets_its_own_levels_unless_the_operator_sets_them() -> None:
    assert level_thresholds("need_12m") == (0.50, 0.20)
    assert level_thresholds("identified_12m") == (0.10, 0.03)
    assert level_thresholds("a_column_of_my_own") == level_thresholds(LEGACY_LABEL)
    assert level_thresholds("need_12m", high=0.3, medium=0.1) == (0.3, 0.1)
    # Only a high threshold below the label's medium: medium comes down to it, never above high.
    assert level_thresholds("need_12m", high=0.06) == (0.06, 0.06)


@pytest.mark.parametrize(
    ("probability", "need", "identification"),
    [
        (0.6, "high", "high"),
        (0.3, "medium", "high"),
        (0.12, "low", "high"),
        (0.05, "low", "medium"),
        (0.01, "low", "low"),
    ],
)
def test_the_same_probability_reads_as_its_models_label_says(
    probability: float, need: str, identification: str
) -> None:
    assert risk_level(probability, level_thresholds("need_12m")) is RiskLevel(need)
    assert risk_level(probability, level_thresholds("identified_12m")) is RiskLevel(identification)


def test_a_model_without_a_label_in_its_metadata_is_an_identification_model() -> None:
    def model(meta: dict[str, str]) -> RiskModel:
        return RiskModel(booster=None, calibrator=None, features=(), meta=meta)  # type: ignore[arg-type]

    assert model({}).label == LEGACY_LABEL == "identified_12m"
    assert model({"label": "need_12m"}).label == "need_12m"
    assert name("need_12m", "en") == "risk of need within 12 months" and "陷入困难" in purpose("need_12m", "zh")
