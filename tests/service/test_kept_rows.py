"""The rows the service keeps of each scored document rebuild the profile the document gave, and hold nothing
that ingestion withholds."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import pandas as pd

from features.contract.tables import TABLES
from features.profiles.build import build_profiles
from features.pseudonyms.ingestion import ingest
from features.reading.sources import coerce_records
from service.documents import ingest_documents
from service.schemas import HouseholdDocument
from tests.service.api_support import AS_OF, KEY, Registered, document, registered  # noqa: F401


def test_each_documents_kept_rows_rebuild_its_profile_and_withhold_ids_and_names(registered: Registered) -> None:
    households = registered.city["households"]["household_id"].tolist()[::97][:25]
    docs = [HouseholdDocument.model_validate(document(registered, h)) for h in households]
    ingested = ingest_documents(docs, KEY)
    assert len(ingested.rows) == len(docs)
    for i, own in enumerate(ingested.rows):
        assert own["households"][0]["household_id"] == households[i]
        for name, rows in own.items():
            personal = {c.name for c in TABLES[name].columns if c.personal} | {"name"}
            assert not personal & {column for row in rows for column in row}, name
        members = ingested.sources.tables["members"]
        own_members = members[members["household_id"] == households[i]]["person_pseudonym"].tolist()
        assert [row.get("person_pseudonym") for row in own.get("members", [])] == own_members
        # Rebuilt as a department event rebuilds it (coerced again, ingested without a key: no IDs are left)
        # equals the document scored alone (without a villages reference, its own village is its context).
        rebuilt = build_profiles(ingest(coerce_records(own, {"origin": "stored"}), None), AS_OF)
        alone = build_profiles(ingest_documents([docs[i]], KEY).sources, AS_OF)
        pd.testing.assert_frame_equal(rebuilt, alone)
