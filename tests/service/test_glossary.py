"""docs/glossary.md lists every Chinese term the product prints, with its English and a source.

The terms come from where the product takes them — the domain catalogues and the reports' message catalogue —
never from the glossary itself, so a term added to a catalogue without a glossary entry fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from features.contract import codes
from features.profiles import catalogue
from features.profiles.rules import RULES
from features.profiles.status import STATUSES
from models.measure_table import MEASURE_LIST
from service.reports.i18n import catalogue as messages
from service.visits import OUTCOMES, VISITOR_ROLES

GLOSSARY = Path(__file__).parents[2] / "docs" / "glossary.md"

# The reports' key terms: labels an official reads as names of things (not sentences, not navigation).
KEY_MESSAGES = (
    "level.high",
    "level.medium",
    "level.low",
    "level.label",
    "meta.as_of",
    "meta.freshness",
    "meta.scored_at",
    "meta.status",
    "prob.label",
    "prob.label_need",
    "table.pseudonym",
    "table.status",
    "table.probability",
    "table.reasons",
    "table.measure",
    "table.measures",
    "table.why_now",
    "table.visit_date",
    "table.visit_outcome",
    "table.signature",
    "table.last_visit",
    "table.list_version",
    "table.hit_rate",
    "table.risk_type",
    "table.rule_flags",
    "table.monitoring_type",
    "table.expected_type",
    "table.monitoring_risk_types",
    "table.identified_date",
    "table.county",
    "table.township",
    "table.village",
    "household.village",
    "household.rules",
    "region.expected",
    "region.expected_need",
    "region.monitored",
    "region.level.province",
    "region.level.city",
    "region.level.county",
    "region.level.township",
    "region.level.village",
    "model.card",
    "model.rules",
    "model.metric.pr_auc",
    "model.metric.roc_auc",
    "model.metric.recall_at_5pct",
    "model.metric.ece",
    "model.metric.brier",
    "model.metric.base_rate",
    "model.fairness.observed",
    "model.fairness.predicted",
    "model.fairness.gap",
    "model.fairness.tpr",
)


def glossary() -> dict[str, tuple[str, str]]:
    """中文 → (English, source) from the glossary's tables."""
    entries = {}
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("中文", "---"):
            entries[cells[0]] = (cells[1], cells[2])
    return entries


def terms() -> dict[str, str]:
    """Every printed term → where the product takes it from."""
    found: dict[str, str] = {}
    for name, labels in (
        ("risk types", codes.RISK_TYPES),
        ("monitoring types", codes.MONITORING_TYPES),
        ("elimination ways", codes.ELIMINATION_WAYS),
        ("statuses", STATUSES),
    ):
        found |= {zh: name for zh, _ in labels.values()}
    found |= {measure.zh: "measures" for measure in MEASURE_LIST}
    found |= {rule.zh: "rules" for rule in RULES}
    found |= {zh: "visit outcomes" for zh, _ in OUTCOMES.values()}
    found |= {zh: "visitor roles" for zh, _ in VISITOR_ROLES.values()}
    found |= {group.zh: "reason groups" for group in catalogue.GROUPS.values()}
    found |= {messages("zh")[key]: key for key in KEY_MESSAGES}
    return found


def test_every_printed_term_is_in_the_glossary_with_english_and_a_source() -> None:
    entries = glossary()
    missing = {term: origin for term, origin in terms().items() if term not in entries}
    assert missing == {}
    for term, (english, source) in entries.items():
        assert english and source, term


def test_the_english_of_each_key_term_is_the_english_pages_own() -> None:
    """The glossary's English for a report label contains what the English page prints (case aside)."""
    entries, en = glossary(), messages("en")
    differ = {
        key: (en[key], entries[messages("zh")[key]][0])
        for key in KEY_MESSAGES
        if en[key].lower().rstrip(".") not in entries[messages("zh")[key]][0].lower()
    }
    assert differ == {}


@pytest.mark.parametrize("term", ["化名", "农户化名编号"])
def test_words_the_product_no_longer_uses_are_not_glossed(term: str) -> None:
    assert term not in GLOSSARY.read_text(encoding="utf-8")
