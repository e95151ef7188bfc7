"""Visit outcomes exported as labels: in need 1, not at risk 0, each with the selection probability of the issued list
it came from; visits that found nobody, found the household already in or out of monitoring, or name no issued
list holding the household are left out and counted; `relapse visits export-outcomes` writes what training reads."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from relapse.cli import app
from service.db import Database
from service.errors import InvalidFieldError
from service.issued_lists import issue_list
from service.outcomes import export_outcomes
from service.scope import Scope
from service.settings import ServiceSettings, get_settings
from service.visits import VisitIn, latest_visits, record_visit
from tests.service.test_reports_worklist import clear, score, store
from training.outcomes import read_outcomes

pytestmark = pytest.mark.xdist_group("reports")

VILLAGE = "990101001001"
SCOPE = Scope("990101")
ENROLLED = {"monitoring_type": "unstable", "risk_types": ["01"]}


def _visit(db: Database, pseudonym: str, outcome: str, day: date, version: str | None, **more: object) -> None:
    with db.session() as session:
        fields = {"visited_on": day, "visitor_role": "grid_worker", "outcome": outcome, "list_version": version}
        record_visit(session, SCOPE, pseudonym, VisitIn.model_validate(fields | more), key_id=None, source="api")


def _listed(db: Database) -> tuple[str, dict[str, float]]:
    """A list of 4 slots, 2 explored, over 10 households: hh0, hh1 by rank, two drawn from the other eight."""
    clear(db)
    store(db, [score(f"hh{i}", VILLAGE, round(0.9 - i * 0.05, 2)) for i in range(10)])
    with db.session() as session:
        head, rows = issue_list(
            session, SCOPE, 4, {}, share=0.5, seed=1, visits=latest_visits(session, SCOPE), key_id=None
        )
        return head.list_version, {r.household_pseudonym: r.selection_probability for r in rows}


def test_outcomes_carry_their_label_and_selection_probability(db: Database) -> None:
    version, listed = _listed(db)
    drawn = sorted(h for h, p in listed.items() if p < 1)
    assert len(drawn) == 2 and all(listed[h] == pytest.approx(2 / 8) for h in drawn)
    day = date(2025, 7, 10)
    _visit(db, "hh0", "enrolled", day, version, **ENROLLED)
    _visit(db, "hh1", "not_at_risk", day, version)
    _visit(db, drawn[0], "away", day, version)  # not met: dropped
    _visit(db, drawn[0], "enrolled", date(2025, 7, 20), version, **ENROLLED)  # met on the second try
    _visit(db, drawn[1], "not_at_risk", day, version)
    _visit(db, drawn[1], "enrolled", date(2025, 8, 1), version, **ENROLLED)  # the later visit from the list counts
    _visit(db, "hh0", "already_monitored", date(2025, 8, 1), "other-list")  # already in monitoring: dropped
    unlisted = next(f"hh{i}" for i in range(10) if f"hh{i}" not in listed)
    with pytest.raises(InvalidFieldError, match="list_version"):
        _visit(db, unlisted, "not_at_risk", day, version)  # not on the issued list it names: refused
    _visit(db, unlisted, "not_at_risk", day, "printed-990101")  # a list the service did not issue
    _visit(db, unlisted, "enrolled", day, None, **ENROLLED)  # no list named
    _visit(db, "hh1", "not_at_risk", date(2025, 6, 1), version)  # before the list's data date

    with db.read_session() as session:
        outcomes = export_outcomes(session, SCOPE)
    got = {
        (r.household_id, str(r.visited_on)[:10], r.label, r.selection_probability, r.explored)
        for r in outcomes.rows.itertuples()
    }
    assert got == {
        ("hh0", "2025-07-10", 1, 1.0, False),
        ("hh1", "2025-07-10", 0, 1.0, False),
        (drawn[0], "2025-07-20", 1, 0.25, True),
        (drawn[1], "2025-08-01", 1, 0.25, True),
    }
    assert (outcomes.rows["list_as_of"] == pd.Timestamp("2025-07-01")).all()
    assert outcomes.dropped == {
        "household not met (not found, refused, away)": 1,
        "already in or out of monitoring": 1,
        "list not issued by the service or household not on it": 1,
        "no list named": 1,
        "visited before the list's data date": 1,
        "an earlier visit from the same list": 1,
    }
    with db.read_session() as session:
        assert export_outcomes(session, Scope("990102")).rows.empty  # another region's visits stay there


def test_relapse_visits_export_outcomes_writes_what_training_reads(
    db: Database, settings: ServiceSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version, listed = _listed(db)
    _visit(db, "hh0", "enrolled", date(2025, 7, 10), version, **ENROLLED)
    _visit(db, "hh1", "not_found", date(2025, 7, 10), version)
    monkeypatch.setenv("RELAPSE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("RELAPSE_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        out = tmp_path / "outcomes.parquet"
        done = CliRunner().invoke(app, ["visits", "export-outcomes", "--region", "990101", "--out", str(out)])
        assert done.exit_code == 0, done.output
        assert "1 outcome(s), 1 positive" in done.output and "household not met" in done.output
        read = read_outcomes(out)
        assert read[["household_id", "label", "selection_probability"]].values.tolist() == [["hh0", 1, 1.0]]
        wrong = CliRunner().invoke(app, ["visits", "export-outcomes", "--out", str(tmp_path / "o.txt")])
        assert wrong.exit_code == 2 and "--out" in wrong.output
    finally:
        get_settings.cache_clear()
