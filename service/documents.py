"""Household documents, the API's input, on the batch road: contract tables → validation → pseudonyms → profiles.

A document carries one household's rows of the source-data contract. They become the same tables a batch
folder holds and go through the same stages in the same order as `relapse score` (docs/architecture.md,
non-negotiables 2 and 8): `features.validation.report.validate_sources` judges every rule at once, so the caller
gets every violation in one 422, not the first one; `features.pseudonyms.ingestion.ingest` pseudonymises ID numbers;
`features.profiles.build.build_profiles` builds the profiles. Village context comes from the service's villages
reference (`service.references`), never from whichever villages happen to travel with the request, so one
household gets the same profile through every road.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import pandas as pd

from features.contract.tables import HOUSEHOLD_TABLES, PSEUDONYM_COLUMNS, TABLES, withheld_columns
from features.profiles.build import build_profiles
from features.pseudonyms.ingestion import ingest
from features.pseudonyms.keys import PseudonymKey
from features.reading.sources import Sources, coerce_records
from features.validation.report import ValidationReport, Violation, describe_reason, validate_sources
from service.errors import InvalidFieldError, ServiceError
from service.references import VillageReference
from service.schemas import HouseholdDocument
from service.scope import check_region_code

# Tables a household document may carry, each a list of rows of the contract's table of the same name.
DOCUMENT_TABLES: Final = (*(name for name in HOUSEHOLD_TABLES if name != "households"), "member_status")
# Tables whose absence means "not observed" (features missing) rather than "no records": a document that sends
# the list, even empty, says the source system holds the table, so the request carries it.
OBSERVED_WHEN_SENT: Final = ("civil_affairs",)


@dataclass(frozen=True)
class DocumentViolation:
    """One broken contract rule, located in the request: document `row` (0-based), its `table` and the row's
    position `item` (0-based) in that table's list of the document. The submitted value is never repeated."""

    row: int | None
    table: str
    item: int | None
    column: str
    reason: str

    @property
    def field(self) -> str:
        return f"{document_field(self.table)}.{self.column}"

    @property
    def message(self) -> str:
        return describe_reason(self.reason)


class DocumentViolationsError(ServiceError, ValueError):
    """The documents break the source-data contract; `violations` lists every one the validator found."""

    def __init__(self, violations: list[DocumentViolation], total: int) -> None:
        first = violations[0]
        where = f"row {first.row}, " if first.row is not None else ""
        super().__init__(
            f"{total} violations of the source-data contract; first: {where}{first.field}: {first.message}"
        )
        self.violations = violations
        self.total = total


@dataclass(frozen=True)
class DocumentSources:
    """The documents as contract tables, and for each table the document index of every row; `rows` are the
    request's own rows of each table as sent (a village row only where the reference does not know it)."""

    sources: Sources
    owners: dict[str, list[int]]
    rows: dict[str, list[dict[str, Any]]]

    def locate(self, violation: Violation) -> DocumentViolation:
        """Where a validator's violation (1-based row within its table) lies in the request."""
        owners = self.owners.get(violation.table, [])
        if violation.row is None or violation.row > len(owners):
            return DocumentViolation(
                owners[0] if owners else None, violation.table, None, violation.column, violation.reason
            )
        document = owners[violation.row - 1]
        item = owners[: violation.row - 1].count(document)
        return DocumentViolation(document, violation.table, item, violation.column, violation.reason)


def documents_to_sources(
    documents: Sequence[HouseholdDocument], reference: VillageReference | None = None
) -> DocumentSources:
    """The documents as contract tables: the request's shape is checked here (known columns, one household per
    document, its region code), the contract's rules by `validate_documents`.

    The villages table is the reference's villages of the documents' counties; a document's own village row is
    used only where the reference does not know that village (or the service holds no reference)."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in ("households", *DOCUMENT_TABLES, "villages")}
    owners: dict[str, list[int]] = {name: [] for name in rows}
    seen_villages: set[str] = set()
    for i, document in enumerate(documents):
        household = _checked_row("households", document.household, i)
        household_id = household.get("household_id")
        if not isinstance(household_id, str) or not household_id:
            raise InvalidFieldError("household.household_id", "is required", i)
        check_region_code(household.get("region_code"), "household.region_code", i)
        rows["households"].append(household)
        owners["households"].append(i)
        for name in DOCUMENT_TABLES:
            for row in getattr(document, name):
                row = _checked_row(name, row, i)
                if "household_id" in TABLES[name].column_names:
                    if row.setdefault("household_id", household_id) != household_id:
                        raise InvalidFieldError(f"{name}.household_id", "differs from the document's household", i)
                rows[name].append(row)
                owners[name].append(i)
        if document.village is not None:
            village = _checked_row("villages", document.village, i)
            if village.get("region_code") != household["region_code"]:
                raise InvalidFieldError("village.region_code", "differs from the household's region_code", i)
            known = reference is not None and reference.knows(str(village["region_code"]))
            if not known and village["region_code"] not in seen_villages:
                seen_villages.add(village["region_code"])
                rows["villages"].append(village)
                owners["villages"].append(i)
    sent = {name for document in documents for name in OBSERVED_WHEN_SENT if name in document.model_fields_set}
    carried = {name: table_rows for name, table_rows in rows.items() if table_rows or name in sent}
    sources = coerce_records(carried, {"origin": "api"})
    if reference is not None:
        counties = {str(row["region_code"])[:6] for row in rows["households"]}
        sources.tables["villages"] = reference.with_villages(counties, sources.tables.get("villages"))
        # The reference's rows were validated when they were loaded; only the request's own rows are located.
        owners["villages"] = [-1] * (len(sources.tables["villages"]) - len(owners["villages"])) + owners["villages"]
    return DocumentSources(sources, owners, carried)


def validate_documents(documents: DocumentSources, today: date | None = None) -> None:
    """Every violation of the contract in the documents, as one `DocumentViolationsError`; nothing if valid."""
    report: ValidationReport = validate_sources(documents.sources, today=today)
    if report.ok:
        return
    violations = [documents.locate(v) for v in report.violations]
    violations = [v for v in violations if v.row != -1]  # a reference row: the request cannot fix it
    if violations:
        raise DocumentViolationsError(violations, report.total)


@dataclass(frozen=True)
class IngestedDocuments:
    """Validated documents after ingestion: the contract tables `build_profiles` reads, and each document's own
    rows as JSON as ingestion left them (what `service.household_sources` keeps)."""

    sources: Sources
    rows: list[dict[str, list[dict[str, Any]]]]


def ingest_documents(
    documents: Sequence[HouseholdDocument],
    key: PseudonymKey | None,
    reference: VillageReference | None = None,
    *,
    today: date | None = None,
) -> IngestedDocuments:
    """The documents validated and ingested: their contract tables, and each one's own rows."""
    tables = documents_to_sources(documents, reference)
    validate_documents(tables, today)
    # Member ID numbers become keyed pseudonyms here, as in ingestion; nothing personal goes further.
    sources = ingest(tables.sources, key)
    return IngestedDocuments(sources, _own_rows(tables, sources, len(documents)))


def ingested_documents(
    documents: Sequence[HouseholdDocument],
    key: PseudonymKey | None,
    reference: VillageReference | None = None,
    *,
    today: date | None = None,
) -> Sources:
    """The documents as validated, ingested contract tables (what `build_profiles` reads)."""
    return ingest_documents(documents, key, reference, today=today).sources


def _own_rows(tables: DocumentSources, ingested: Sources, count: int) -> list[dict[str, list[dict[str, Any]]]]:
    """Each document's rows as sent, with what ingestion withholds left out and its members' pseudonyms in, the
    cells as the request gave them (coercing them again gives the same tables). Taken from the request's rows,
    not from the ingested frames: the same values, without converting typed frames back cell by cell."""
    out: list[dict[str, list[dict[str, Any]]]] = [{} for _ in range(count)]
    members = ingested.tables.get("members")
    pseudonyms = {c: members[c].tolist() for c in PSEUDONYM_COLUMNS if members is not None and c in members.columns}
    for name, table_rows in tables.rows.items():
        if name == "villages":
            continue
        withheld = set(withheld_columns(name))
        for j, (row, owner) in enumerate(zip(table_rows, tables.owners[name], strict=True)):
            kept = {c: v for c, v in row.items() if v is not None and c not in withheld}
            if name == "members":
                kept.update((c, values[j]) for c, values in pseudonyms.items() if values[j] is not pd.NA)
            out[owner].setdefault(name, []).append(kept)
        if name in OBSERVED_WHEN_SENT:  # sent empty by some document: observed, with no records, for every one
            for own in out:
                own.setdefault(name, [])
    villages = {str(row["region_code"]): row for row in tables.rows.get("villages", [])}
    for own in out:
        village = villages.get(str(own["households"][0]["region_code"]))
        if village is not None:
            own["villages"] = [{c: v for c, v in village.items() if v is not None}]
    return out


def profiles_from_documents(
    documents: Sequence[HouseholdDocument],
    as_of: date,
    key: PseudonymKey | None,
    reference: VillageReference | None = None,
    *,
    today: date | None = None,
) -> pd.DataFrame:
    """Profiles as of `as_of`, one per document in order, built exactly like the batch builds them."""
    return build_profiles(ingested_documents(documents, key, reference, today=today), as_of)


def document_field(table: str) -> str:
    return {"households": "household", "villages": "village"}.get(table, table)


def _checked_row(table: str, row: dict[str, Any], index: int) -> dict[str, Any]:
    allowed = TABLES[table].column_names
    for column in row:
        if column not in allowed:
            raise InvalidFieldError(f"{document_field(table)}.{column}", "is not a column of the contract", index)
    return dict(row)
