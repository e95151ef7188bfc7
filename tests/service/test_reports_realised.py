"""The model report's "after training" section, from a monitor summary written by hand."""

from __future__ import annotations

from typing import Any

from service.reports.i18n import Messages, catalogue
from service.reports.realised import monitor_context


def figures(value: float, low: float, high: float, training: float, verdict: str) -> dict[str, Any]:
    return {
        "value": value,
        "low": low,
        "high": high,
        "training": training,
        "training_low": training - 0.01,
        "training_high": training + 0.01,
        "verdict": verdict,
    }


SUMMARY: dict[str, Any] = {
    "training_test_as_of": "2025-01-01",
    "extract_date": "2027-01-01",
    "levels": {"psi_watch": 0.1, "psi_act": 0.25},
    "dates": [
        {
            "as_of": "2026-01-01",
            "step": 1,
            "rows": 12_345,
            "positives": 140,
            "window_open": False,
            "retrain": ["realised pr_auc worse than at training"],
            "psi_score": 0.05,
            "score_level": "stable",
            "features_watch": 2,
            "features_act": 1,
            "realised": {
                "pr_auc": figures(0.1, 0.08, 0.12, 0.2, "worse"),
                "recall_at_5pct": figures(0.4, 0.3, 0.5, 0.42, "as at training"),
                "ece": figures(0.004, 0.003, 0.006, 0.005, "as at training"),
            },
        },
        {"as_of": "2027-01-01", "step": 2, "rows": 12_000, "window_open": True, "retrain": ["score PSI 0.300 ≥ 0.25"],
         "psi_score": 0.3, "score_level": "act", "features_watch": 0, "features_act": 3},
    ],
}  # fmt: skip


def test_each_date_shows_its_figures_its_verdicts_and_what_calls_for_retraining() -> None:
    m = Messages("en")
    en = catalogue("en")
    context = monitor_context(SUMMARY, m)
    assert context is not None
    judged, open_ = context["rows"]
    assert judged["rows"] == "12,345" and judged["positives"] == "140" and not judged["open"]
    assert judged["metrics"][0] == {
        "now": "0.100 (0.080–0.120)",
        "training": "0.200 (0.190–0.210)",
        "verdict": en["model.realised.verdict.worse"],
        "class": "level-high",
    }
    assert judged["metrics"][2]["now"] == "0.0040 (0.0030–0.0060)"  # ECE with four digits
    assert judged["retrain"] == [en["model.realised.reason_worse"].format(metric=en["model.metric.pr_auc"])]
    assert judged["features"] == "2 / 1"
    assert open_["open"] and open_["positives"] == "—"
    assert open_["psi_level"] == en["model.drift.warning"] and open_["psi_class"] == "level-high"
    assert open_["retrain"] == [en["model.realised.reason_psi"].format(psi="0.300")]


def test_the_chinese_page_names_the_alerts_in_chinese_and_no_summary_is_no_section() -> None:
    zh = catalogue("zh")
    context = monitor_context(SUMMARY, Messages("zh"))
    assert context is not None
    assert context["rows"][0]["retrain"] == [zh["model.realised.reason_worse"].format(metric=zh["model.metric.pr_auc"])]
    assert context["rows"][0]["metrics"][0]["now"] == "0.100（0.080–0.120）"  # full-width brackets in Chinese
    assert monitor_context(None, Messages("en")) is None
    assert monitor_context({"dates": []}, Messages("en")) is None
    quiet = {**SUMMARY, "dates": [{**SUMMARY["dates"][0], "retrain": []}]}
    context = monitor_context(quiet, Messages("en"))
    assert context is not None and context["rows"][0]["retrain"] == []
