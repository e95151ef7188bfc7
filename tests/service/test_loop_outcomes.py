"""Outcomes close the loop through the real app: households scored → a visit list issued with its design → visits
recorded from it, some finding need and some not → the next list leaves the visited negatives out and the region
report shows the first list's hit rate → the exported outcomes become weighted rows of the training period and a
model is fitted on them, in process and through `relapse visits export-outcomes` and `relapse train --outcomes`."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features.profiles.build import build_profiles
from features.pseudonyms.ingestion import ingest
from features.reading.sources import write_sources
from service.db import Database
from service.outcomes import export_outcomes
from service.scope import Scope
from service.tables import Role
from tests.service.api_support import FAST, KEY, Registered, bearer, rows_of
from training.fit import fit_risk_model
from training.labels import build_snapshots
from training.observation import WEIGHT_COLUMN
from training.outcomes import add_outcomes, visit_rows
from training.split import latest_split

pytestmark = pytest.mark.slow

LIST_DATE = "2023-01-01"  # a training date of the registered city's snapshots: the outcomes can be learnt from
COUNTY = "990101"


def test_visits_from_an_issued_list_become_weighted_training_rows(
    client: TestClient, db: Database, registered: Registered, tmp_path: Path
) -> None:
    monitor, official = bearer(db, Role.MONITOR, COUNTY), bearer(db, Role.OFFICIAL, COUNTY)
    profiles = build_profiles(ingest(registered.city, KEY), LIST_DATE)
    county = profiles[profiles["region_code"].astype(str).str.startswith(COUNTY)]
    scored = client.post("/v1/profiles:score", json={"profiles": rows_of(county), "as_of": LIST_DATE}, headers=monitor)
    assert scored.status_code == 200, scored.text

    # 1. A list of five per village, two of them drawn at random.
    issued = client.post(
        f"/v1/regions/{COUNTY}/visit-lists", json={"visits_per_village": 5, "exploration_share": 0.4}, headers=monitor
    )
    assert issued.status_code == 201, issued.text
    first = issued.json()
    version, items = first["list_version"], first["items"]
    assert first["households"] == len(items) >= 5 and any(i["explored"] for i in items)

    # 2. Visits: the first of each village is found in need, the others not at risk.
    positives: set[str] = set()
    for item in items:
        found = item["rank"] == 1
        visit = {
            "visited_on": "2023-01-20",
            "visitor_role": "grid_worker",
            "list_version": version,
            "list_rank": item["rank"],
            "outcome": "enrolled" if found else "not_at_risk",
        }
        if found:
            visit |= {"monitoring_type": "marginal", "risk_types": ["01"]}
            positives.add(item["household_pseudonym"])
        answer = client.post(f"/v1/households/{item['household_pseudonym']}/visits", json=visit, headers=official)
        assert answer.status_code == 201, answer.text
    negatives = {i["household_pseudonym"] for i in items} - positives

    # A visit must match the issued list it names: the household's rank there, and the household on it at all
    # (its outcome is weighed by that list's selection probability). Nothing of a refused visit is stored.
    listed = items[0]
    wrong_rank = {"visited_on": "2023-01-21", "visitor_role": "grid_worker", "outcome": "not_at_risk"}
    wrong_rank |= {"list_version": version, "list_rank": listed["rank"] + 100}
    refused = client.post(f"/v1/households/{listed['household_pseudonym']}/visits", json=wrong_rank, headers=official)
    assert refused.status_code == 422 and "list_rank" in refused.text
    assert f"ranked {listed['rank']}" in refused.text
    on_list = {i["household_pseudonym"] for i in items}
    outsider = next(str(h) for h in county["household_id"] if str(h) not in on_list)
    elsewhere = {**wrong_rank, "list_rank": None}
    refused = client.post(f"/v1/households/{outsider}/visits", json=elsewhere, headers=official)
    assert refused.status_code == 422 and "list_version" in refused.text
    assert client.get(f"/v1/households/{outsider}/visits", headers=official).json()["visits"] == []

    # 3. The next list leaves the visited negatives out; the region report counts the first list's hit rate.
    second = client.post(f"/v1/regions/{COUNTY}/visit-lists", json={"visits_per_village": 5}, headers=monitor)
    assert second.status_code == 201, second.text
    assert not negatives & {i["household_pseudonym"] for i in second.json()["items"]}
    page = client.get(f"/reports/region/{COUNTY}?lang=en", headers=official)
    assert page.status_code == 200 and version in page.text
    assert f"{len(positives) / len(items):.0%}" in page.text

    # 4. The outcomes, exported, become weighted rows of the training period, and a model is fitted with them.
    with db.read_session() as session:
        outcomes = export_outcomes(session, Scope(COUNTY))
    assert len(outcomes.rows) == len(items) and int(outcomes.rows["label"].sum()) == len(positives)
    # As `training.pipeline.data_from_sources` does for the need label: every household's snapshot is kept, so
    # that a visit labels one whose records show no outcome; the rows still unlabelled are then left out.
    dates = sorted(pd.to_datetime(registered.data.snapshots["as_of"]).unique())
    everyone = build_snapshots(registered.city, dates, registered.data.label, keep_unobserved=True)
    added = add_outcomes(everyone, outcomes.rows, 12)
    snapshots = added.snapshots[added.snapshots["label"].notna()].reset_index(drop=True)
    snapshots["label"] = snapshots["label"].astype(np.int8)
    split = latest_split(snapshots["as_of"], 12)
    visits = visit_rows(snapshots)
    assert pd.Timestamp(LIST_DATE) in split.train and added.added == len(items)
    assert (split.train_mask(snapshots) & visits).sum() == len(items)
    weights = snapshots.loc[visits, WEIGHT_COLUMN].to_numpy()
    chance = {i["household_pseudonym"]: i["selection_probability"] for i in items}
    expected = [1 / chance[h] for h in snapshots.loc[visits, "household_id"]]
    assert weights == pytest.approx(expected) and np.any(weights > 1)
    fit = fit_risk_model(snapshots, registered.data.features, split, FAST)
    assert fit.best_iteration >= 1

    # 5. The same through the commands, as a data scientist runs them: the service's outcomes exported to a file,
    # and `relapse train` on the city's source folder with that file adds them as weighted training rows.
    folder, exported = tmp_path / "city", tmp_path / "outcomes.parquet"
    write_sources(registered.city, folder)
    env = {
        **os.environ,
        "RELAPSE_DATA_DIR": str(tmp_path / "data"),
        "RELAPSE_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
    }

    def relapse(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "relapse", *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr  # the console writes to stderr

    relapse("visits", "export-outcomes", "--region", COUNTY, "--out", str(exported))
    assert pd.read_parquet(exported)["label"].sum() == len(positives)
    few = tmp_path / "params.json"
    few.write_text(json.dumps({"num_iterations": 40}))  # a small model: the rows, not the fit, are under test
    trained = relapse(
        "train", "--data", str(folder), "--outcomes", str(exported), "--no-backtest", "--params", str(few)
    )
    assert f"visit outcomes: {len(items)} added as weighted training rows" in " ".join(trained.split())
