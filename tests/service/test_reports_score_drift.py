"""The model report's drift of the served scores: the stored scores of the serving version, binned by the database
in the training run's score deciles, against the run's test scores (PSI as `training.drift` computes it)."""

# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import mlflow
import numpy as np
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import update

from service.db import Database
from service.keys import Caller
from service.reports.i18n import catalogue
from service.scope import Scope
from service.served_scores import score_bin_counts
from service.store import ScoreInput, record_scores
from service.tables import Role, ScoreRecord
from tests.service.api_support import bearer
from training.drift import psi

COUNTY = "990101"


def store(db: Database, probabilities: np.ndarray, version: str, first: int = 0) -> None:
    rows = [
        ScoreInput(
            household_pseudonym=f"H{first + i:06d}",
            region_code=f"{COUNTY}001001",
            as_of=date(2025, 7, 1),
            model_version=version,
            probability=float(p),
            level="high" if p >= 0.1 else "low",
            input_hash=f"sha256:{first + i:064x}",
        )
        for i, p in enumerate(probabilities)
    ]
    with db.session() as session:
        record_scores(session, Scope.everything(), Caller.local_operator(), rows)


def by_hand(edges: list[float], probabilities: np.ndarray) -> list[int]:
    """Bins closed on the right, as training's reference (numpy's searchsorted, side left), then missing."""
    bins = np.searchsorted(np.asarray(edges), probabilities, side="left")
    return [*np.bincount(bins, minlength=len(edges) + 1).tolist(), 0]


def test_the_database_bins_scores_as_training_does_edges_included(db: Database) -> None:
    edges = [0.01, 0.02, 0.05, 0.2]
    p = np.array([0.0, 0.01, 0.015, 0.02, 0.02, 0.03, 0.05, 0.2, 0.21, 1.0])  # four on an edge exactly
    store(db, p, "3")
    store(db, np.array([0.5, 0.5]), "4", first=100)  # another version: not counted
    with db.session() as session:
        counts = score_bin_counts(session, "3", edges)
        assert counts == by_hand(edges, p) == [2, 3, 2, 1, 2, 0]
        # Scores stored before the period are left out.
        session.execute(
            update(ScoreRecord).where(ScoreRecord.probability < 0.02).values(scored_at=datetime(2020, 1, 1, tzinfo=UTC))
        )
        recent = score_bin_counts(session, "3", edges, scored_since=datetime.now(UTC) - timedelta(days=30))
    assert recent == by_hand(edges, p[p >= 0.02])


def reference(holder: Any) -> dict[str, Any]:
    serving = holder.current
    mlflow.set_tracking_uri(holder.source.tracking_uri)
    loaded: dict[str, Any] = mlflow.artifacts.load_dict(f"runs:/{serving.info['run_id']}/reference_distributions.json")
    return loaded


@pytest.mark.parametrize("factor", [1.0, 3.0])
def test_the_model_report_shows_the_served_scores_psi_level_and_chart(
    client: TestClient, db: Database, holder: Any, factor: float
) -> None:
    headers = bearer(db, Role.OFFICIAL, COUNTY)
    en, zh = catalogue("en"), catalogue("zh")
    before = client.get("/reports/model?lang=en", headers=headers).text
    assert str(escape(en["model.score_drift_missing"])) in before  # no score stored yet

    score = reference(holder)["score"]
    rng = np.random.default_rng(2)
    # Scores drawn to fall evenly into the training deciles (unchanged), or three times those (risk overstated).
    edges = np.asarray(score["edges"])
    lows, highs = np.r_[0.0, edges], np.r_[edges, min(1.0, edges[-1] * 2)]
    chosen = rng.integers(0, len(lows), 2_000)
    p = np.clip(rng.uniform(lows[chosen], highs[chosen]) * factor, 0, 1)
    store(db, p, holder.current.version)
    expected = psi(score["counts"], by_hand(list(edges), p))
    level = "stable" if expected < 0.1 else "watch" if expected < 0.25 else "warning"
    assert (level == "warning") == (factor == 3.0), expected

    html = client.get("/reports/model?lang=en", headers=headers).text
    assert en["model.score_drift_value"].format(psi=f"{expected:.3f}") in html
    shown = re.search(r'class="level-(high|medium|low)">([^<]+)</span>', html)
    assert shown is not None and shown.group(2) == en[f"model.drift.{level}"]
    alt = en["model.score_drift_alt"].format(n=len(edges) + 1, psi=f"{expected:.3f}")
    assert f'aria-label="{escape(alt)}"' in html
    assert f"({2_000} scores)" in html

    chinese = client.get("/reports/model?lang=zh", headers=headers).text
    assert zh["model.score_drift_value"].format(psi=f"{expected:.3f}") in chinese
    assert zh[f"model.drift.{level}"] in chinese and zh["model.score_drift.current"] in chinese


def test_on_few_scores_the_page_says_what_the_index_reads_by_chance(
    client: TestClient, db: Database, holder: Any
) -> None:
    headers = bearer(db, Role.OFFICIAL, COUNTY)
    loaded = reference(holder)
    store(db, np.full(40, 0.05), holder.current.version)
    html = client.get("/reports/model?lang=en", headers=headers).text
    bins = len(loaded["score"]["edges"]) + 1
    noise = (bins - 1) * (1 / 40 + 1 / loaded["rows"])  # the chi-square approximation of PSI under no change
    assert str(escape(catalogue("en")["model.score_drift_noise"].format(n=40, noise=f"{noise:.2f}"))) in html

    store(db, np.full(4_000, 0.05), holder.current.version, first=100)  # enough scores: no such sentence
    html = client.get("/reports/model?lang=en", headers=headers).text
    assert catalogue("en")["model.score_drift_noise"].split("{")[0] not in html
