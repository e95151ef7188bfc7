"""The scores the service actually served, read back for monitoring: which probability each household was given,
as of which date, by which model version.

Monitoring judges what officials saw, not a re-scoring: a household re-scored for the same date by the same
version counts once, with its latest stored score (the largest `scored_at`, then id), so a batch run repeated
after a fix does not count its households twice. Scores of other versions for the same date are kept: each version
is judged on the households it scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Integer, case, func, literal, select
from sqlalchemy.orm import Session

from service.tables import ScoreRecord

COLUMNS = ("household_id", "as_of", "model_version", "probability", "monitoring_status", "synthetic")


def served_scores(
    session: Session, *, since: date | None = None, until: date | None = None, version: str | None = None
) -> pd.DataFrame:
    """One row per (household, as_of, model version) with `as_of` in [since, until] (COLUMNS; the household's
    pseudonym is its `household_id`, as in the source tables the scores were built from)."""
    query = select(
        ScoreRecord.household_pseudonym,
        ScoreRecord.as_of,
        ScoreRecord.model_version,
        ScoreRecord.probability,
        ScoreRecord.monitoring_status,
        ScoreRecord.synthetic,
        ScoreRecord.scored_at,
        ScoreRecord.id,
    )
    if since is not None:
        query = query.where(ScoreRecord.as_of >= since)
    if until is not None:
        query = query.where(ScoreRecord.as_of <= until)
    if version is not None:
        query = query.where(ScoreRecord.model_version == version)
    rows = session.execute(query.order_by(ScoreRecord.scored_at, ScoreRecord.id)).all()
    frame = pd.DataFrame(rows, columns=[*COLUMNS, "scored_at", "id"])
    frame = frame.drop_duplicates(["household_id", "as_of", "model_version"], keep="last")
    frame["probability"] = frame["probability"].astype(float)
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame.loc[:, list(COLUMNS)].reset_index(drop=True)


def score_bin_counts(
    session: Session, version: str, edges: Sequence[float], *, scored_since: datetime | None = None
) -> list[int]:
    """Counts of the version's stored scores in the bins of `edges`, counted by the database: bin i holds the
    scores above i of the edges (closed on the right, as the training reference bins them), then an empty
    missing bin (a stored probability is never missing)."""
    above = sum((case((ScoreRecord.probability > float(e), 1), else_=0) for e in edges), start=literal(0, Integer))
    query = select(above.label("bin"), func.count()).where(ScoreRecord.model_version == version)
    if scored_since is not None:
        query = query.where(ScoreRecord.scored_at >= scored_since)
    counts = np.zeros(len(edges) + 2, dtype=np.int64)
    for bin_index, count in session.execute(query.group_by("bin")).all():
        counts[int(bin_index)] = int(count)
    return [int(c) for c in counts]
