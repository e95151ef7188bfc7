"""Home visits close the loop on the work list: a household a visit found not at risk leaves the list until a later
score shows new evidence, every row shows its last visit, and each list version's hit rate is counted."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from service.db import Database
from service.reports.i18n import Messages
from service.reports.worklist import Capacity, work_list
from service.scope import Scope
from service.visits import VisitIn, hit_rates, latest_visits, record_visit
from tests.service.test_reports_worklist import clear, score, store

pytestmark = pytest.mark.xdist_group("reports")

VILLAGE = "990101001001"
SCOPE = Scope("990101")


def _visit(db: Database, pseudonym: str, outcome: str, day: date, **more: object) -> None:
    with db.session() as session:
        fields = {"visited_on": day, "visitor_role": "grid_worker", "outcome": outcome, **more}
        record_visit(session, SCOPE, pseudonym, VisitIn.model_validate(fields), key_id=None, source="api")


def _listed(db: Database, per_village: int = 2) -> tuple[list[str], int, list[str]]:
    """(pseudonyms listed, households left out after a visit, the rows' last-visit cells)."""
    from service.reports import work_table

    with db.session() as session:
        work = work_list(session, SCOPE, Capacity(per_village, 1), {}, visits=latest_visits(session, SCOPE))
    rows = work_table.rows(work, Messages("zh"))
    return [r["pseudonym"] for r in rows], work.settled, [r["last_visit"] for r in rows]


def test_a_household_found_not_at_risk_leaves_the_list_until_new_risk_evidence(db: Database) -> None:
    clear(db)
    store(db, [score("hh1", VILLAGE, 0.9), score("hh2", VILLAGE, 0.5), score("hh3", VILLAGE, 0.2)])
    assert _listed(db)[0] == ["hh1", "hh2"]

    _visit(db, "hh1", "not_at_risk", date(2025, 7, 20))
    _visit(db, "hh2", "away", date(2025, 7, 20))
    listed, settled, last = _listed(db)
    assert listed == ["hh2", "hh3"] and settled == 1  # the next household takes hh1's place
    assert last == ["2025年7月20日，外出", "未走访"]  # an absent household stays listed, its visit shown

    # A later score without a new risk type: still left out. One naming a new risk type (因灾): back on the list.
    store(db, [score("hh1", VILLAGE, 0.9, as_of=date(2025, 10, 1), keys=("01",))])
    assert _listed(db)[0] == ["hh2", "hh3"]
    store(db, [score("hh1", VILLAGE, 0.9, as_of=date(2026, 1, 1), keys=("01", "02"))])
    assert _listed(db)[:2] == (["hh1", "hh2"], 0)


def test_a_new_rule_flag_or_a_higher_level_is_new_evidence_too(db: Database) -> None:
    """Reasons list only the strongest few: a new risk type behind them shows as a rule flag or a level."""
    clear(db)
    low = score("hh1", VILLAGE, 0.05, keys=("01", "03", "04"))  # low risk on the visit day
    store(db, [low, score("hh2", VILLAGE, 0.5), score("hh3", VILLAGE, 0.2)])
    _visit(db, "hh1", "not_at_risk", date(2025, 7, 20))
    later = date(2025, 10, 1)
    same = score("hh1", VILLAGE, 0.06, as_of=later, keys=("01", "03", "04"))
    store(db, [replace(same, rule_flags={"rigid_medical_single_stay": False})])
    assert _listed(db, per_village=3)[:2] == (["hh2", "hh3"], 1)  # nothing new: still left out
    flagged = replace(same, as_of=date(2025, 11, 1), rule_flags={"rigid_medical_single_stay": True})
    store(db, [flagged])
    assert _listed(db, per_village=3)[:2] == (["hh2", "hh3", "hh1"], 0)  # a flag the visit-day score did not raise
    clear(db)
    store(db, [low, score("hh2", VILLAGE, 0.5), score("hh3", VILLAGE, 0.2)])
    _visit(db, "hh1", "not_at_risk", date(2025, 7, 20))
    store(db, [score("hh1", VILLAGE, 0.3, as_of=later, keys=("01", "03", "04"))])  # low → high, same reasons
    assert _listed(db, per_village=3)[:2] == (["hh2", "hh1", "hh3"], 0)  # by probability


def test_a_correction_replaces_the_visit_it_corrects(db: Database) -> None:
    clear(db)
    store(db, [score("hh1", VILLAGE, 0.9), score("hh2", VILLAGE, 0.5), score("hh3", VILLAGE, 0.2)])
    _visit(db, "hh1", "not_at_risk", date(2025, 7, 20))
    with db.session() as session:
        (wrong,) = latest_visits(session, SCOPE).values()
    _visit(db, "hh1", "not_found", date(2025, 7, 20), corrects=wrong.id)  # it was the neighbour's house
    assert _listed(db)[0] == ["hh1", "hh2"]


def test_hit_rates_count_visited_and_enrolled_households_per_list_version(db: Database) -> None:
    clear(db)
    store(db, [score(f"hh{i}", VILLAGE, 0.5) for i in range(5)])
    day = date(2025, 7, 20)
    enrolled = {"monitoring_type": "unstable", "risk_types": ["01"]}
    _visit(db, "hh0", "enrolled", day, list_version="v1", **enrolled)
    _visit(db, "hh1", "not_at_risk", day, list_version="v1")
    _visit(db, "hh2", "away", day, list_version="v1")  # not visited in fact: not counted
    _visit(db, "hh3", "enrolled", day, list_version="v2", **enrolled)
    _visit(db, "hh4", "refused", day)  # no list named
    with db.session() as session:
        rates = {r.list_version: (r.visited, r.enrolled, r.rate) for r in hit_rates(session, SCOPE)}
    assert rates == {"v1": (2, 1, 0.5), "v2": (1, 1, 1.0)}
