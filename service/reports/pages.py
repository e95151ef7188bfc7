"""What each report shows, as plain template contexts built from stored scores and the serving model.

The functions here read nothing themselves except through their arguments, so tests can feed them known
values. Numbers are formatted here (percent, percentage points, dates) so that the templates only place text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final

from features.contract import codes
from features.profiles import catalogue
from features.profiles.readiness import CONDITIONS as READINESS_CONDITIONS
from features.profiles.readiness import STATES as READINESS_STATES
from features.profiles.rules import RULES
from features.profiles.status import MONITORED, STATUSES
from models.outcomes import NEED_LABEL
from models.reasons import reason_names
from service._scores import ScoreView
from service._summary import RegionSummary
from service.model_holder import ServingModel
from service.reports import charts, realised, work_table
from service.reports._queries import Disagreement, TrendPoint
from service.reports._registry import RunArtifacts, VersionHistory
from service.reports.drift import DriftReport, ScoreDrift, status
from service.reports.i18n import LOCAL_TIME, Messages
from service.reports.worklist import Place, WorkList
from service.scope import Scope
from service.tables import RiskLevel
from service.visits import HitRate

LEVELS: Final = (RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW)
_RULES_BY_NAME: Final = {rule.name: rule for rule in RULES}
DRIFT_CHART_FEATURES: Final = 12


def percent(p: float) -> str:
    """A probability in percent, one decimal. A probability short of certainty never reads "100.0" or "0.0": an
    official takes those for certainty, so it reads ">99.9" or "<0.1"."""
    if 0.0 < p < 0.0005:
        return "<0.1"
    if 0.9995 <= p < 1.0:
        return ">99.9"
    return f"{p * 100:.1f}"


def for_label(key: str, label: str | None) -> str:
    """The message key that says what the serving model estimates: a need model's `_need` variant, else the key
    (an identification model's wording; `label` None when no model is loaded)."""
    return f"{key}_need" if label == NEED_LABEL else key


def probability_words(p: float, m: Messages, label: str | None = None) -> str:
    """A probability as a natural frequency ("about 3 in 10 similar households …") of what the model estimates.
    Never "10 in 10" or "100 in 100": from 95 % on it is counted in hundreds, at most 99 (no certainty)."""
    if 0.095 <= p < 0.95:
        return m.t(for_label("prob.words_10", label), n=max(1, round(p * 10)))
    if p >= 0.005:
        return m.t(for_label("prob.words_100", label), n=min(99, max(1, round(p * 100))))
    return m.t(for_label("prob.words_lt1", label))


def identification_text(view: ScoreView, m: Messages) -> str:
    """The second output in words: the chance the usual channels identify the household within a year, and, when
    its risk level is medium or high and its need at least twice as likely, that nobody may find it unless someone
    looks; empty without it."""
    found = view.identification_probability
    if found is None:
        return ""
    text = m.t("household.identification", p=percent(found))
    if view.level != RiskLevel.LOW and view.probability >= 2 * found:
        text += m.t("household.identification_gap")
    return text


def reason_name(reason: Mapping[str, Any], m: Messages) -> str:
    key = str(reason.get("key", ""))
    zh, en = reason_names(key)
    return m.pick(str(reason.get("zh") or zh), str(reason.get("en") or en))


_SHOWN_POINTS: Final = 0.1  # percentage points: what one decimal place can show


def reason_items(reasons: Sequence[Mapping[str, Any]], m: Messages) -> list[dict[str, Any]]:
    """Each stored reason as a name, a sentence and its percentage points."""
    items = []
    for reason in reasons:
        name = reason_name(reason, m)
        # Rounded before display so that a risk type the model gives (almost) no weight reads 0.0, not -0.0.
        points = round(float(reason.get("points") or 0.0) * 100, 1) + 0.0
        stored = reason.get(f"sentence_{m.lang}")
        weight = _weight_words(points, m)
        if stored:  # the household's own values in words, as the scorer stored them
            sentence = str(stored)
        elif points >= _SHOWN_POINTS:
            sentence = m.t("household.reason_sentence", name=name, points=f"{points:.1f}")
        else:
            sentence = weight
        items.append(
            {
                "name": name,
                "points": f"{points:.1f}",
                "value": points,
                "sentence": sentence,
                "own_words": bool(stored),
                "weight": weight,
            }
        )
    return items


def _weight_words(points: float, m: Messages) -> str:
    """What the model makes of a reason, in words: a risk type with evidence leads the reasons whatever its points
    (docs/domain.md §12), so "0.0 points" must read as "listed for its facts", not as a figure to puzzle over."""
    if points >= _SHOWN_POINTS:
        return m.t("household.reason_points", points=f"{points:.1f}")
    if points <= -_SHOWN_POINTS:
        return m.t("household.reason_points_lower", points=f"{-points:.1f}")
    return m.t("household.reason_points_none")


def measure_items(measures: Sequence[Mapping[str, Any]], m: Messages, whatif: bool = True) -> list[dict[str, Any]]:
    """Each measure's name and, with `whatif`, the estimate with it (none for a current monitoring object)."""
    items = []
    for measure in measures:
        after = measure.get("probability_after")
        points = measure.get("points")
        estimate = (
            m.t("household.measure_whatif", after=percent(float(after)), points=f"{float(points) * 100:+.1f}")
            if whatif and after is not None and points is not None
            else ""
        )
        items.append({"name": m.pick(str(measure.get("zh", "")), str(measure.get("en", ""))), "whatif": estimate})
    return items


def rule_texts(flags: Mapping[str, Any], m: Messages) -> list[str]:
    """Raised flags in the rules' own order, in the page's language; unknown flag names as they are."""
    texts = [m.pick(rule.zh, rule.en) for rule in RULES if bool(flags.get(rule.name))]
    texts += [name for name, raised in flags.items() if raised is True and name not in _RULES_BY_NAME]
    return texts


def level_text(level: RiskLevel | str, m: Messages) -> str:
    return m.t(f"level.{RiskLevel(level).value}")


def _common(m: Messages, synthetic: bool, now: datetime) -> dict[str, Any]:
    return {"m": m, "synthetic": synthetic, "generated_at": m.time(now)}


def freshness(as_of: date, m: Messages, now: datetime) -> str:
    """How old the data is: days from the data's date (`as_of`) to today in Beijing, not from the scoring."""
    days = (now.astimezone(LOCAL_TIME).date() - as_of).days
    return m.t("meta.freshness_days", date=m.date(as_of), days=max(days, 0))


def household_context(
    history: Sequence[ScoreView],
    m: Messages,
    now: datetime | None = None,
    places: Mapping[str, Place] | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """The household report of the latest of `history` (newest first, non-empty); `label` is the serving model's,
    when one is loaded (what its probabilities estimate)."""
    now = now or datetime.now(UTC)
    latest = history[0]
    reasons = reason_items(latest.reasons, m)
    rest = latest.probability * 100 - sum(r["value"] for r in reasons)
    total = latest.probability * 100
    steps = [charts.Step(m.t("household.waterfall_rest"), rest)] + [charts.Step(r["name"], r["value"]) for r in reasons]
    waterfall = charts.waterfall(
        steps,
        m.t("household.waterfall_total"),
        m.t("household.waterfall_alt", rest=f"{rest:.1f}", total=f"{total:.1f}"),
    )
    # Scores given while the household was a monitoring object estimate nothing for it: left out of the chart
    # and shown as "—" in the table; the rest were estimates for a household not under monitoring.
    ordered = [v for v in reversed(history) if v.newly_identifiable]  # oldest first for the chart
    history_chart = (
        charts.line_chart(
            [m.date(v.as_of) for v in ordered],
            [charts.Series(m.t("table.probability"), [v.probability * 100 for v in ordered])],
            m.t("household.history_alt", n=len(ordered), last=percent(ordered[-1].probability)),
            unit="%",
        )
        if ordered
        else ""
    )
    return _common(m, any(v.synthetic for v in history), now) | {
        "title": m.t("household.title", pseudonym=latest.household_pseudonym),
        "pseudonym": latest.household_pseudonym,
        "status": work_table.status_text(latest, m),
        "expected_type": work_table.expected_type_text(latest, m),
        # the model's probability is made for households not under monitoring: a current object's is not shown
        "monitored": not latest.newly_identifiable,
        "readiness": readiness_cells(latest.elimination_readiness, m),
        "village": place_title(latest.region_code, places or {}, m),
        "probability": percent(latest.probability),
        "probability_label": m.t(for_label("prob.label", label)),
        "probability_words": probability_words(latest.probability, m, label),
        "identification": identification_text(latest, m),
        "level": latest.level.value,
        "level_text": level_text(latest.level, m),
        "reasons": reasons,
        "waterfall": waterfall,
        "rules": rule_texts(latest.rule_flags, m),
        "measures": measure_items(latest.measures, m, whatif=latest.newly_identifiable),
        "history": [
            {
                "as_of": m.date(v.as_of),
                "probability": percent(v.probability) if v.newly_identifiable else "—",
                "level": v.level.value,
                "level_text": level_text(v.level, m),
                "model_version": v.model_version,
            }
            for v in history
        ],
        "history_chart": history_chart,
        "model_version": latest.model_version,
        "as_of": m.date(latest.as_of),
        "scored_at": m.time(latest.scored_at),
        "freshness": freshness(latest.as_of, m, now),
    }


def place_title(code: str, places: Mapping[str, Place], m: Messages) -> str:
    """A region as an office names it — "岭峁县 北岭镇 北岭村" with the code — from the villages reference;
    where the reference has no name, its level ("县级单位", never "县" for a 区 or 县级市) and code."""
    level = Scope(code).level if code else "everything"
    for place in places.values():
        names = {
            "county": (place.county_code, [place.county]),
            "township": (place.township_code, [place.county, place.township]),
            "village": (place.village_code, [place.county, place.township, place.village]),
        }.get(level)
        if names is not None and names[0] == code and all(names[1]):
            return m.t("region.named", name=" ".join(names[1]), code=code)
    return m.t("region.unnamed", level=m.t(f"region.level.{level}"), code=code or "*")


def worklist_context(work: WorkList, m: Messages) -> dict[str, Any]:
    """The work list grouped by township, then village, with the capacity it was cut to."""
    capacity = work.capacity
    capacity_text = (
        m.t("worklist.capacity_count", n=capacity.per_village)
        if capacity.count is not None
        else m.t("worklist.capacity", per=capacity.visits_per_worker, workers=capacity.workers)
    )
    cells = iter(work_table.rows(work, m))
    townships: list[dict[str, Any]] = []
    for village in work.villages:
        listed = [next(cells) for _ in village.rows]
        township = work_table.place_name(village.place, "township")
        if not townships or townships[-1]["code"] != village.place.township_code:
            townships.append({"code": village.place.township_code, "name": township, "villages": [], "n": 0})
        townships[-1]["villages"].append(
            {
                "code": village.place.village_code,
                "heading": m.t(
                    "worklist.village",
                    township=township,
                    village=work_table.place_name(village.place, "village"),
                    households=f"{village.households:,}",
                    n=len(listed),
                ),
                "rows": listed,
            }
        )
        townships[-1]["n"] += len(listed)
    for group in townships:
        group["heading"] = m.t("worklist.township", name=group["name"], villages=len(group["villages"]), n=group["n"])
    return {
        "townships": townships,
        "note": m.t(
            "region.visit_list_note",
            per_village=capacity.per_village,
            capacity=capacity_text,
            villages=len(work.villages),
            n=work.rows,
        )
        + (m.t("worklist.settled_left_out", n=work.settled) if work.settled else ""),
        "version": m.t("worklist.version", version=work.version),
        "n": work.rows,
    }


def expected_text(summary: RegionSummary, m: Messages, label: str | None = None) -> str:
    """The sum of probabilities with its interval, whole households, as a sentence saying what the serving model
    estimates (`label`): households in need for a need model, else new identifications."""
    expected = summary.expected_identifications
    return m.t(
        for_label("region.expected_text", label),
        households=f"{expected.households:,}",
        expected=f"{expected.expected:,.0f}",
        low=f"{math.floor(expected.low):,}",
        high=f"{math.ceil(expected.high):,}",
        confidence=f"{expected.confidence:.0%}",
    )


def monitored_row(view: ScoreView, m: Messages, places: Mapping[str, Place]) -> dict[str, Any]:
    """A current monitoring object as the report lists it: what its identification recorded, no probability."""
    place = places.get(view.region_code)
    return {
        "pseudonym": view.household_pseudonym,
        "village": view.region_code,
        "village_name": place.village if place is not None and place.village else view.region_code,
        "type": m.pick(*codes.MONITORING_TYPES[view.monitoring_type])
        if view.monitoring_type in codes.MONITORING_TYPES
        else "—",
        "risk_types": m.join(m.pick(*codes.RISK_TYPES[c]) for c in view.monitoring_risk_types if c in codes.RISK_TYPES)
        or "—",
        "identified": m.date(view.identified_date),
        "readiness": readiness_cells(view.elimination_readiness, m),
    }


def readiness_cells(nested: Mapping[str, Any] | None, m: Messages) -> dict[str, Any] | None:
    """A monitoring object's elimination conditions as the report shows them: each state in words, in the
    declared order; None for a score stored before readiness was derived."""
    if nested is None:
        return None
    return {
        "ready": m.t("readiness.ready" if nested["ready"] else "readiness.not_ready"),
        "met": f"{nested['met']}/{len(nested['conditions'])}",
        "states": [
            {
                "name": m.pick(str(item["zh"]), str(item["en"])),
                "state": item["state"],
                "text": m.pick(*READINESS_STATES[item["state"]]),
            }
            for item in nested["conditions"]
            if item["state"] in READINESS_STATES
        ],
    }


def visit_row(view: ScoreView, m: Messages, places: Mapping[str, Place], reasons: int = 3) -> dict[str, Any]:
    measure = view.measures[0] if view.measures else None
    place = places.get(view.region_code)
    return {
        "pseudonym": view.household_pseudonym,
        "village": view.region_code,
        "village_name": place.village if place is not None and place.village else view.region_code,
        "probability": percent(view.probability),
        "level": view.level.value,
        "level_text": level_text(view.level, m),
        "reasons": m.join(reason_name(r, m) for r in view.reasons[:reasons]),
        "measure": m.pick(str(measure.get("zh", "")), str(measure.get("en", ""))) if measure else "",
        "rules": m.t("punct.semicolon").join(rule_texts(view.rule_flags, m)),
    }


def region_context(
    summary: RegionSummary,
    trend: Sequence[TrendPoint],
    model_only: Disagreement,
    rules_only: Disagreement,
    m: Messages,
    now: datetime | None = None,
    top_risk_types: int = 8,
    *,
    work: WorkList | None = None,
    places: Mapping[str, Place] | None = None,
    hit_rates: Sequence[HitRate] = (),
    label: str | None = None,
) -> dict[str, Any]:
    """`label`: the serving model's (what its probabilities estimate), when one is loaded."""
    now = now or datetime.now(UTC)
    places = places or {}
    counts = {level.value: summary.by_level.get(level, 0) for level in LEVELS}
    total = max(summary.newly_identifiable, 1)  # levels count only households that can be newly identified
    top = summary.top_risk_types[:top_risk_types]
    risk_types = [
        {"name": reason_name({"key": t.key}, m), "households": f"{t.households:,}", "share": f"{t.share:.0%}"}
        for t in top
    ]
    return _common(m, summary.synthetic, now) | {
        "title": m.t("region.title", name=place_title(summary.region_code, places, m)),
        "code": summary.region_code,
        "households": summary.households,
        "households_text": m.t("region.households_n", n=f"{summary.households:,}"),
        "levels": [
            {
                "level": lv.value,
                "text": level_text(lv, m),
                "count": f"{counts[lv.value]:,}",
                "share": f"{counts[lv.value] / total:.1%}",
            }
            for lv in LEVELS
        ],
        **_region_charts(counts, top, trend, m),
        "trend": [
            {"as_of": m.date(p.as_of), **{lv.value: f"{p.by_level.get(lv, 0):,}" for lv in LEVELS}} for p in trend
        ],
        "risk_types": risk_types,
        "worklist": worklist_context(work, m) if work is not None else None,
        "hit_rates": [
            {
                "version": rate.list_version,
                "visited": f"{rate.visited:,}",
                "enrolled": f"{rate.enrolled:,}",
                "rate": f"{rate.rate:.0%}" if rate.rate is not None else "—",
            }
            for rate in hit_rates
        ],
        "model_only": {"n": model_only.households, "rows": [visit_row(v, m, places) for v in model_only.listed]},
        "rules_only": {"n": rules_only.households, "rows": [visit_row(v, m, places) for v in rules_only.listed]},
        "newly_identifiable": summary.newly_identifiable,
        "monitored_count": summary.by_status.get(MONITORED, 0),
        "scope_note": m.t(
            "region.scope_note",
            n=f"{summary.newly_identifiable:,}",
            monitored=f"{summary.by_status.get(MONITORED, 0):,}",
        ),
        "by_status": [
            {"text": m.pick(*STATUSES[status]), "count": f"{summary.by_status.get(status, 0):,}"} for status in STATUSES
        ],
        "expected_heading": m.t(for_label("region.expected", label)),
        "expected": expected_text(summary, m, label),
        # Actual counts from the jobs' source data where the service has them, else the scored households' lower bound.
        "past_identifications": [
            {"year": str(year), "count": f"{n:,}"}
            for year, n in sorted((summary.identifications_by_year or summary.latest_identifications_by_year).items())
        ],
        "past_identifications_caption": m.t(
            "region.past_identifications_actual" if summary.identifications_by_year else "region.past_identifications"
        ),
        "risk_types_note": m.t("region.risk_types_note", n=f"{summary.risk_type_households:,}"),
        "monitored": [monitored_row(v, m, places) for v in summary.monitored_list],
        "readiness_conditions": [m.pick(c.zh, c.en) for c in READINESS_CONDITIONS],
        "as_of": m.date(summary.latest_as_of),
        "model_versions": sorted({v.model_version for v in summary.visit_list}),
    }


def _region_charts(
    counts: dict[str, int], top: Sequence[Any], trend: Sequence[TrendPoint], m: Messages
) -> dict[str, str]:
    """The region page's charts: households by level, the most frequent risk types, and levels over time."""
    levels = [
        charts.Bar(level_text(level, m), counts[level.value], f"{counts[level.value]:,}", charts.LEVEL_COLOURS[level])
        for level in LEVELS
    ]
    series = [
        charts.Series(level_text(level, m), [p.by_level.get(level, 0) for p in trend], charts.LEVEL_COLOURS[level])
        for level in LEVELS
    ]
    return {
        "by_level_chart": charts.bar_chart(levels, m.t("region.by_level_alt", **counts)),
        "risk_chart": charts.bar_chart(
            [charts.Bar(reason_name({"key": t.key}, m), t.households, f"{t.households:,}") for t in top],
            m.t("region.top_risk_types_alt", n=len(top)),
        ),
        "trend_chart": charts.line_chart(
            [m.date(p.as_of) for p in trend], series, m.t("region.trend_alt", n=len(trend))
        ),
    }


METRICS: Final = ("pr_auc", "recall_at_5pct", "roc_auc", "ece", "brier", "base_rate")


def _number(value: Any, digits: int = 3) -> str:
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return "—"


def _count(value: Any) -> str:
    """A count read back from CSV ("455.0") as a whole number."""
    try:
        return f"{float(value):,.0f}"
    except (TypeError, ValueError):
        return "—"


_CARD_SECTION: Final = re.compile(r"^<!-- lang:(zh|en) -->$", re.M)


def model_card_for(card: str | None, m: Messages) -> tuple[str | None, str]:
    """The card's section in the page's language, and that language.

    Training writes one card with a section per language, each opened by a line `<!-- lang:zh -->` (see
    `training/model_card.py`); a card without such lines is an English card of an older version."""
    if not card:
        return None, m.lang
    parts = _CARD_SECTION.split(card)
    sections = {parts[i]: parts[i + 1].strip() + "\n" for i in range(1, len(parts) - 1, 2)}
    if m.lang in sections:
        return sections[m.lang], m.lang
    return sections.get("en", card), "en"


def group_text(kind: str, value: Any, m: Messages) -> str:
    """A fairness attribute or group in words (户主性别, 女); a value without a translation (a county code) as is."""
    key = f"model.group.{kind}" if kind != "value" else f"model.group.value.{value}"
    key = f"model.group.{value}" if kind == "attribute" else key
    try:
        return m.t(key)
    except KeyError:
        return str(value)


def feature_label(name: str, m: Messages) -> str:
    item = catalogue.BY_NAME.get(name)
    return m.pick(item.zh, item.en) if item is not None else name


def model_context(
    serving: ServingModel,
    *,
    name: str,
    alias: str,
    degraded: str | None,
    artifacts: RunArtifacts,
    history: list[VersionHistory] | None,
    drift: DriftReport | None,
    psi_watch: float,
    psi_warning: float,
    m: Messages,
    now: datetime | None = None,
    score_drift: ScoreDrift | None = None,
    monitor: dict[str, Any] | None = None,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    metrics: dict[str, float] = {str(k): float(v) for k, v in (serving.info.get("metrics") or {}).items()}
    drift_rows, drift_chart, warnings = _feature_drift(drift, psi_watch, psi_warning, m)
    score = _score_drift(score_drift, psi_watch, psi_warning, m) if score_drift is not None else None
    card, card_lang = model_card_for(serving.info.get("model_card"), m)
    label = serving.model.label
    return _common(m, serving.synthetic, now) | {
        "title": m.t("model.title", name=name, version=serving.version),
        "version": serving.version,
        "name": name,
        "alias": alias,
        "source": serving.source,
        "loaded_at": m.time(datetime.fromtimestamp(serving.loaded_at, UTC)),
        "degraded": degraded,
        "model_card": card,
        "model_card_lang": card_lang,
        "metrics": _metric_rows(metrics, m, label=label),
        # the second output: the identification companion's held-out figures, when the model carries one
        "identification_metrics": _metric_rows(metrics, m, prefix="identification_test_"),
        "positives_label": m.t(for_label("model.fairness.positives", label)),
        "observed_label": m.t(for_label("model.fairness.observed", label)),
        "performance_chart": _performance_chart(metrics, m),
        "calibration_chart": _calibration_chart(artifacts.fairness, m),
        "ece": _number(metrics.get("test_ece"), 4),
        "fairness": [_fairness_row(row, m) for row in artifacts.fairness],
        "drift": drift,
        "drift_rows": drift_rows,
        "drift_chart": drift_chart,
        "drift_warnings": warnings,
        "score_drift": score,
        "realised": realised.monitor_context(monitor, m),
        "psi_watch": psi_watch,
        "psi_warning": psi_warning,
        "history": None if history is None else [_history_row(h, m) for h in history],
    }


def _metric_rows(
    metrics: dict[str, float], m: Messages, *, label: str | None = None, prefix: str = "test_"
) -> list[dict[str, str]]:
    """The test figures of the run (metrics named `prefix` + metric) beside the official rules' and their
    intervals; the base rate named by what the model estimates (`label`; an identification companion's is of
    identification)."""
    rows = []
    for key in METRICS:
        if f"{prefix}{key}" not in metrics:
            continue
        low, high = metrics.get(f"{prefix}{key}_ci_low"), metrics.get(f"{prefix}{key}_ci_high")
        name = for_label(f"model.metric.{key}", label) if key == "base_rate" else f"model.metric.{key}"
        rows.append(
            {
                "name": m.t(name),
                "value": _number(metrics[f"{prefix}{key}"]),
                "rules": _number(metrics.get(f"rules_{key}")) if prefix == "test_" else "—",
                "interval": f"{_number(low)} – {_number(high)}" if low is not None and high is not None else "—",
            }
        )
    return rows


def _performance_chart(metrics: dict[str, float], m: Messages) -> str | None:
    """PR-AUC and recall at 5 %: the model's bar beside the rules' where the run measured them."""
    bars = []
    for key in ("pr_auc", "recall_at_5pct"):
        if f"test_{key}" in metrics:
            label = m.t(f"model.metric.{key}").split("（")[0].split(" (")[0]
            value = metrics[f"test_{key}"]
            bars.append(charts.Bar(f"{label} · {m.t('model.value')}", value, f"{value:.3f}"))
            if f"rules_{key}" in metrics:
                rules = metrics[f"rules_{key}"]
                bars.append(charts.Bar(f"{label} · {m.t('model.rules')}", rules, f"{rules:.3f}", charts.SECOND))
    return charts.bar_chart(bars, m.t("model.performance_alt"), label_width=200, width=480) if bars else None


def _fairness_row(row: dict[str, Any], m: Messages) -> dict[str, str]:
    return {
        "attribute": group_text("attribute", row.get("attribute", ""), m),
        "group": group_text("value", row.get("group", ""), m),
        "households": _count(row.get("households")),
        "positives": _count(row.get("positives")),
        "tpr": _number(row.get("tpr_at_5pct")),
        "observed": _number(row.get("observed_rate"), 4),
        "predicted": _number(row.get("mean_predicted"), 4),
        "gap": _number(row.get("calibration_gap"), 4),
    }


def _calibration_chart(fairness: list[dict[str, Any]], m: Messages) -> str | None:
    """Each group's mean predicted against observed rate (rows without both figures are left out)."""
    points = []
    for row in fairness:
        try:
            points.append(
                charts.Point(
                    f"{group_text('attribute', row.get('attribute'), m)}{m.t('punct.colon')}"
                    f"{group_text('value', row.get('group'), m)}",
                    float(row["mean_predicted"]),
                    float(row["observed_rate"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    if not points:
        return None
    return charts.calibration_chart(
        points,
        m.t("model.calibration_alt"),
        x_label=m.t("model.fairness.predicted"),
        y_label=m.t("model.fairness.observed"),
    )


def _feature_drift(
    drift: DriftReport | None, psi_watch: float, psi_warning: float, m: Messages
) -> tuple[list[dict[str, str]], str | None, int]:
    """The drift table's rows, a chart of the most drifted features, and how many features are at warning."""
    if drift is None:
        return [], None, 0
    rows, warnings = [], 0
    for item in drift.features:
        state = status(item.psi, psi_watch, psi_warning)
        warnings += state == "warning"
        rows.append(
            {
                "feature": feature_label(item.feature, m),
                "name": item.feature,
                "psi": f"{item.psi:.3f}",
                "status": state,
                "status_text": m.t(f"model.drift.{state}"),
            }
        )
    colours = {
        "stable": charts.LEVEL_COLOURS["low"],
        "watch": charts.LEVEL_COLOURS["medium"],
        "warning": charts.LEVEL_COLOURS["high"],
    }
    top = drift.features[:DRIFT_CHART_FEATURES]
    bars = [
        charts.Bar(feature_label(f.feature, m), f.psi, f"{f.psi:.3f}", colours[status(f.psi, psi_watch, psi_warning)])
        for f in top
    ]
    return rows, charts.bar_chart(bars, m.t("model.drift_alt", n=len(top)), label_width=170, width=480), warnings


def _history_row(h: VersionHistory, m: Messages) -> dict[str, str]:
    gate_text = {"passed": m.t("model.gate.passed"), "overridden": m.t("model.gate.overridden")}
    return {
        "version": h.version,
        "created": m.time(h.created_at) if h.created_at else "—",
        "aliases": ", ".join(h.aliases),
        "promoted_at": h.promoted_at or "—",
        "replaced": h.replaced or "—",
        "gate": gate_text.get(h.gate or "", m.t("model.gate.none")),
        "reason": h.reason or "",
        "retired_at": h.retired_at or "—",
    }


def today() -> date:
    return datetime.now(UTC).date()


def _score_drift(drift: ScoreDrift, watch: float, warning: float, m: Messages) -> dict[str, Any]:
    """The served scores' PSI, its level, and the shares of both populations in the training deciles as a chart."""
    state = status(drift.psi, watch, warning)
    labels = [str(i + 1) for i in range(len(drift.reference))]
    chart = charts.line_chart(
        labels,
        [
            charts.Series(m.t("model.score_drift.reference"), [100 * v for v in drift.reference], charts.SECOND),
            charts.Series(m.t("model.score_drift.current"), [100 * v for v in drift.current], charts.ACCENT),
        ],
        m.t("model.score_drift_alt", n=len(labels), psi=f"{drift.psi:.3f}"),
        unit="%",
        width=480,
    )
    # Without any change, PSI over k bins reads about (k - 1) · (1/n + 1/N) from sampling alone (its chi-square
    # approximation); on few stored scores that is near the watch level, and the page says so.
    noise = (len(drift.reference) - 1) * (1 / drift.current_rows + 1 / max(drift.reference_rows, 1))
    return {
        "psi": f"{drift.psi:.3f}",
        "noise": f"{noise:.2f}" if noise >= watch / 2 else None,
        "status": state,
        "status_text": m.t(f"model.drift.{state}"),
        "reference_rows": drift.reference_rows,
        "current_rows": drift.current_rows,
        "since": drift.scored_since,
        "chart": chart,
    }
