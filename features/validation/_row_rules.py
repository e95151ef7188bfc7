"""Rules that relate several columns or tables: dates, member links, event details, household history.

Every rule judges only rows whose inputs are present; an empty or unreadable input is reported by the
column checks, and reporting it again here as a broken rule would only bury the cause.
"""

from __future__ import annotations

from datetime import date
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.id_numbers import check_id_numbers
from features.contract.tables import TABLES
from features.contract.violations import Reason
from features.reading._arrow import as_arrow, lookup_rows
from features.validation._violations import Collector

# Details a department must push with each event type (contract note on `events`).
REQUIRED_BY_EVENT_TYPE: Final[dict[str, tuple[str, ...]]] = {
    "hospital_stay": ("total_cost_yuan", "oop_cost_yuan"),
    "disaster": ("disaster_type", "loss_yuan"),
    "disability_certificate": ("disability_grade",),
    "insurance_payout": ("amount_yuan",),
}

# A planned end of an assistance spell (e.g. dibao granted until year end) or of a civil-affairs recognition (its
# next review) may lie in the future.
FUTURE_ALLOWED: Final = frozenset({("assistance", "end_date"), ("civil_affairs", "end_date")})

# Tables of spells: a start_date and an end_date that cannot precede it.
SPELL_TABLES: Final = ("assistance", "civil_affairs")

# Dated rows about one member that cannot precede the member's birth.
MEMBER_DATES: Final = (
    ("events", "event_date"),
    ("member_status", "recorded_date"),
    ("assistance", "start_date"),
)


def check_row_rules(collector: Collector, today: date) -> None:
    _future_dates(collector, today)
    _member_links(collector)
    _events(collector)
    _households(collector)
    _assistance(collector)
    _identifications(collector)
    _id_numbers(collector)


def _has(collector: Collector, table: str) -> bool:
    return table in collector.sources.tables and len(collector.sources[table]) > 0


def _dates(collector: Collector, table: str, column: str) -> np.ndarray:
    return collector.column(table, column).to_numpy(dtype="datetime64[ns]")


def _future_dates(collector: Collector, today: date) -> None:
    limit = np.datetime64(today, "ns")
    for table in TABLES.values():
        if not _has(collector, table.name):
            continue
        for column in table.columns:
            if column.kind != "date" or (table.name, column.name) in FUTURE_ALLOWED:
                continue
            if not collector.nulls(table.name, column.name).all():
                future = _dates(collector, table.name, column.name) > limit
                collector.add(table.name, column.name, Reason.FUTURE_DATE, future)


def _member_links(collector: Collector) -> None:
    """Dates before the member's birth, and members attached to a household they do not belong to."""
    if not _has(collector, "members"):
        return  # every member_id is then an orphan, reported as such
    member_ids = as_arrow(collector.column("members", "member_id"))
    births = _dates(collector, "members", "birth_date")
    households = as_arrow(collector.column("members", "household_id"))
    for table, column in MEMBER_DATES:
        if not _has(collector, table):
            continue
        encoded = collector.encoded(table, "member_id")
        # Position of each distinct member id among the members (-1: unknown, reported as an orphan).
        found = pc.index_in(encoded.dictionary, value_set=member_ids).fill_null(-1).to_numpy()
        positions = lookup_rows(encoded, found.astype(np.int64), missing=-1)
        is_found = positions >= 0
        birth = births[np.where(is_found, positions, 0)]
        before = is_found & (_dates(collector, table, column) < birth)  # NaT compares false
        collector.add(table, column, Reason.BEFORE_BIRTH, before)
        if table != "member_status":
            own = pc.take(households, pa.array(np.where(is_found, positions, 0)))
            other = np.asarray(
                pc.fill_null(pc.not_equal(own, as_arrow(collector.column(table, "household_id"))), False)
            )
            collector.add(table, "member_id", Reason.MEMBER_OF_OTHER_HOUSEHOLD, is_found & other)


def _events(collector: Collector) -> None:
    if not _has(collector, "events"):
        return
    event_type = collector.column("events", "event_type")
    for kind, columns in REQUIRED_BY_EVENT_TYPE.items():
        of_kind = (event_type == kind).to_numpy(dtype=bool, na_value=False)
        for column in columns:
            collector.add(
                "events", column, Reason.REQUIRED_FOR_EVENT_TYPE, of_kind & collector.absent("events", column)
            )
    with np.errstate(invalid="ignore"):
        exceeds = (
            collector.column("events", "oop_cost_yuan").to_numpy()
            > collector.column("events", "total_cost_yuan").to_numpy()
        )
    collector.add("events", "oop_cost_yuan", Reason.OOP_EXCEEDS_TOTAL, exceeds)


def _households(collector: Collector) -> None:
    """Registration and exit years exist only for households that were registered poor (建档立卡)."""
    if not _has(collector, "households"):
        return
    general = (collector.column("households", "household_type") == "general").to_numpy(dtype=bool, na_value=False)
    for column in ("registration_year", "exit_year"):
        present = ~collector.nulls("households", column)
        collector.add("households", column, Reason.ONLY_FOR_POVERTY_ALLEVIATED, general & present)
    exit_year, registration_year = (collector.column("households", c) for c in ("exit_year", "registration_year"))
    exit_before = (exit_year < registration_year).to_numpy(dtype=bool, na_value=False)
    collector.add("households", "exit_year", Reason.EXIT_BEFORE_REGISTRATION, exit_before)


def _assistance(collector: Collector) -> None:
    for table in SPELL_TABLES:
        if _has(collector, table):
            ends_before = _dates(collector, table, "end_date") < _dates(collector, table, "start_date")
            collector.add(table, "end_date", Reason.END_BEFORE_START, ends_before)


def _identifications(collector: Collector) -> None:
    if not _has(collector, "identifications"):
        return
    eliminated = _dates(collector, "identifications", "elimination_date")
    collector.add(
        "identifications",
        "elimination_date",
        Reason.ELIMINATION_BEFORE_IDENTIFICATION,
        eliminated < _dates(collector, "identifications", "identified_date"),
    )
    # Elimination is one decision: it has a date and a way, or neither (中农组发〔2021〕7号).
    has_date, has_way = (
        ~collector.nulls("identifications", "elimination_date"),
        ~collector.nulls("identifications", "elimination_way"),
    )
    no_date = collector.absent("identifications", "elimination_date")
    no_way = collector.absent("identifications", "elimination_way")
    collector.add("identifications", "elimination_date", Reason.MISSING_ELIMINATION_DATE, has_way & no_date)
    collector.add("identifications", "elimination_way", Reason.MISSING_ELIMINATION_WAY, has_date & no_way)


def _id_numbers(collector: Collector) -> None:
    members = collector.sources["members"]
    if "id_number" not in members.columns or not len(members):
        return
    _, bad_checksum = check_id_numbers(members["id_number"])  # malformed IDs fail the column pattern
    collector.add("members", "id_number", Reason.ID_CHECKSUM, bad_checksum)
