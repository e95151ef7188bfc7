"""Faithfulness of reasons (issue #5 §5) and the `relapse explain` command that shows them."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.settings import FeaturesSettings
from models.reasons import PredContribExplainer
from relapse import explain_command
from relapse.cli import app
from tests.cities import city, city_folder
from tests.models.explain_fixtures import small_model
from training.faithfulness import (
    CAUSE_ORDER,
    cause_key,
    faithfulness_cases,
    main,
    measure_faithfulness,
    period_start,
    read_truth,
)

START = pd.Timestamp("2024-01-01")


def test_cause_codes_map_to_reason_keys() -> None:
    assert cause_key("0205") == "02" and cause_key("01") == "01" and cause_key("09") == "09"
    assert cause_key("99") is None


def test_cases_are_single_dominant_real_identifications_in_the_period() -> None:
    sources, truth = city(2_000, 1), read_truth(city_folder(2_000, 1))
    cases = faithfulness_cases(sources, truth, START, START + pd.DateOffset(months=12))
    assert len(cases) > 10
    chosen = truth.set_index("identification_id").loc[cases["identification_id"]]
    assert chosen["single_dominant"].all() and (chosen["trigger"] != "spurious").all()
    assert cases["identified_date"].between(START, START + pd.DateOffset(months=12), inclusive="left").all()
    assert set(cases["cause"]) <= set(CAUSE_ORDER)


@pytest.mark.parametrize("reference", ["identification", "year_start"])
def test_the_table_counts_hits_per_cause(reference: str) -> None:
    model = small_model()
    sources, truth = city(2_000, 1), read_truth(city_folder(2_000, 1))
    result = measure_faithfulness(
        model, sources, truth, start=START, reference=reference, explainer=PredContribExplainer(model.booster)
    )
    cases, table = result.cases, result.table.set_index("cause")
    assert table.loc["all", "cases"] == len(cases)
    hits = sum(c in t.split(",") for c, t in zip(cases["cause"], cases["top_reasons"], strict=True))
    assert table.loc["all", "hits"] == hits
    assert table.drop(index="all")["cases"].sum() == len(cases)
    assert 0.0 <= result.overall <= 1.0
    # Leaving out the non-coded reasons can only move a cause up: the risk-type share is never lower.
    assert result.overall <= result.overall_risk_types <= 1.0
    assert (table["hits_risk_types"] >= 0).all()
    assert "| all |" in result.to_markdown()
    assert period_start(model, sources) == START


@pytest.fixture
def demo_like(isolated_settings: FeaturesSettings, monkeypatch: pytest.MonkeyPatch) -> str:
    """The 2,000-household city as --data, and the small model as the 'champion'."""
    monkeypatch.setattr(explain_command, "registered_model", lambda version: (small_model(), "test"))
    return str(city_folder(2_000, 1))


def test_relapse_explain_prints_reasons_measures_and_what_if_in_both_languages(demo_like: str) -> None:
    households = city(2_000, 1)["households"]["household_id"].astype(str)
    runner = CliRunner()
    household = households.iloc[0]
    result = runner.invoke(app, ["explain", "--household", household, "--data", demo_like, "--as-of", "2024-01-01"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert household in out and "SYNTHETIC DATA" in out and "合成数据" in out
    assert "模型估计，非因果效应" in out and "model estimate, not a causal effect" in out
    assert "reasons" in out and "proposed measures" in out


def test_relapse_explain_refuses_an_unknown_household(demo_like: str) -> None:
    result = CliRunner().invoke(app, ["explain", "--household", "NOPE", "--data", demo_like])
    assert result.exit_code != 0 and "no household" in result.output


@pytest.mark.slow
def test_relapse_explain_faithfulness(demo_like: str) -> None:
    result = CliRunner().invoke(app, ["explain", "--faithfulness", "--data", demo_like])
    assert result.exit_code == 0, result.output
    assert "Faithfulness of reasons" in result.output and "| all |" in result.output


@pytest.mark.slow
def test_faithfulness_on_a_trained_city_model(
    isolated_settings: FeaturesSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data", str(city_folder(6_000, 2)), "--train"]) == 0
    out = capsys.readouterr().out
    assert "| 01 | 因病 illness |" in out and "target" in out
