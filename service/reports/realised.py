"""The model report's "after training" section: what `relapse monitor --data` found on later extracts.

Read from the `monitor.json` of the serving version's latest monitor run (`_registry.RegistryReader.latest_monitor`):
one row per later date (each anniversary of the training test date), with the realised PR-AUC, recall at 5 % and
calibration error beside their training figures once the date's label window has closed, the drift of the score
and the number of features at each alert level, and whether an alert level that calls for retraining was reached.
The figures are the monitor's own; the page only formats them.
"""

from __future__ import annotations

from typing import Any, Final

from service.reports.i18n import Messages

REALISED: Final = ("pr_auc", "recall_at_5pct", "ece")
LEVEL_CLASS: Final = {"act": "level-high", "watch": "level-medium", "stable": "level-low"}
VERDICT_CLASS: Final = {"worse": "level-high", "better": "level-low", "as at training": ""}


def _figure(value: Any, low: Any, high: Any, digits: int, m: Messages) -> str:
    """0.153 (0.122–0.190): the figure and its 95 % interval, brackets in the page's language."""
    if not isinstance(value, int | float):
        return "—"
    if isinstance(low, int | float) and isinstance(high, int | float):
        return f"{value:.{digits}f}" + m.t("punct.paren", text=f"{low:.{digits}f}–{high:.{digits}f}")
    return f"{value:.{digits}f}"


def _cell(figures: dict[str, Any] | None, m: Messages, digits: int) -> dict[str, str]:
    if not figures:
        return {"now": "—", "training": "", "verdict": "", "class": ""}
    verdict = str(figures.get("verdict", "as at training"))
    return {
        "now": _figure(figures.get("value"), figures.get("low"), figures.get("high"), digits, m),
        "training": _figure(
            figures.get("training"), figures.get("training_low"), figures.get("training_high"), digits, m
        ),
        "verdict": m.t(f"model.realised.verdict.{verdict.replace(' ', '_')}"),
        "class": VERDICT_CLASS.get(verdict, ""),
    }


def _row(date: dict[str, Any], m: Messages) -> dict[str, Any]:
    realised = date.get("realised") or {}
    score_level = str(date.get("score_level", ""))
    psi = date.get("psi_score")
    return {
        "as_of": str(date.get("as_of", "")),
        "step": date.get("step", ""),
        "rows": f"{int(date.get('rows', 0)):,}",
        "positives": f"{int(date['positives']):,}" if "positives" in date else "—",
        "open": bool(date.get("window_open")),
        "metrics": [_cell(realised.get(k), m, 4 if k == "ece" else 3) for k in REALISED],
        "psi": f"{psi:.3f}" if isinstance(psi, int | float) else "—",
        "psi_class": LEVEL_CLASS.get(score_level, ""),
        "psi_level": m.t(f"model.drift.{'warning' if score_level == 'act' else score_level}") if score_level else "",
        "features": m.t(
            "model.realised.features_n", watch=date.get("features_watch", 0), act=date.get("features_act", 0)
        ),
        "retrain": _reasons(date, realised, m) if date.get("retrain") else [],
    }


def _reasons(date: dict[str, Any], realised: dict[str, Any], m: Messages) -> list[str]:
    """The alert levels reached, in the page's language (the monitor's own list says the same in English)."""
    reasons = [
        m.t("model.realised.reason_worse", metric=m.t(f"model.metric.{k}"))
        for k in REALISED
        if (realised.get(k) or {}).get("verdict") == "worse"
    ]
    if date.get("score_level") == "act":
        reasons.append(m.t("model.realised.reason_psi", psi=f"{date.get('psi_score', 0):.3f}"))
    return reasons or [str(r) for r in date["retrain"]]


def monitor_context(summary: dict[str, Any] | None, m: Messages) -> dict[str, Any] | None:
    """What the template shows of a monitor run's summary; None without one."""
    if not summary or not summary.get("dates"):
        return None
    levels = summary.get("levels") or {}
    return {
        "test_as_of": str(summary.get("training_test_as_of", "")),
        "extract_date": str(summary.get("extract_date", "")),
        "label": str(summary.get("label", "")),
        "watch": levels.get("psi_watch", ""),
        "act": levels.get("psi_act", ""),
        "headers": [m.t(f"model.metric.{k}") for k in REALISED],
        "rows": [_row(d, m) for d in summary["dates"]],
    }
