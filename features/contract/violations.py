"""A violation of the source-data contract and the reasons it can have.

A leaf module (it imports nothing of `features`): the typed errors that carry violations
(`features.errors.SourceDataError`) and the validator that finds them both depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    """Why a cell breaks the contract; the value is the stable code shown to users and in the API."""

    MISSING_COLUMN = "missing_column"
    WRONG_TYPE = "wrong_type"
    MISSING_REQUIRED = "missing_required"
    BAD_CODE = "bad_code"
    EXCLUSIVE_CODE_COMBINED = "exclusive_code_combined"
    PATTERN = "pattern"
    BELOW_MINIMUM = "below_minimum"
    ABOVE_MAXIMUM = "above_maximum"
    NEGATIVE_AMOUNT = "negative_amount"
    DUPLICATE_KEY = "duplicate_key"
    ORPHAN_REFERENCE = "orphan_reference"
    MEMBER_OF_OTHER_HOUSEHOLD = "member_of_other_household"
    FUTURE_DATE = "future_date"
    BEFORE_BIRTH = "before_birth"
    END_BEFORE_START = "end_before_start"
    ELIMINATION_BEFORE_IDENTIFICATION = "elimination_before_identification"
    MISSING_ELIMINATION_DATE = "missing_elimination_date"
    MISSING_ELIMINATION_WAY = "missing_elimination_way"
    REQUIRED_FOR_EVENT_TYPE = "required_for_event_type"
    OOP_EXCEEDS_TOTAL = "oop_exceeds_total"
    ONLY_FOR_POVERTY_ALLEVIATED = "only_for_poverty_alleviated"
    EXIT_BEFORE_REGISTRATION = "exit_before_registration"
    ID_CHECKSUM = "id_checksum"

    @property
    def text(self) -> str:
        return _REASON_TEXT[self]


_REASON_TEXT: dict[Reason, str] = {
    Reason.MISSING_COLUMN: "required column absent from the file",
    Reason.WRONG_TYPE: "cannot be read as the column's type",
    Reason.MISSING_REQUIRED: "required value is empty",
    Reason.BAD_CODE: "not in the column's code list",
    Reason.EXCLUSIVE_CODE_COMBINED: "a code that must stand alone is combined with others",
    Reason.PATTERN: "does not have the required format",
    Reason.BELOW_MINIMUM: "below the minimum",
    Reason.ABOVE_MAXIMUM: "above the maximum",
    Reason.NEGATIVE_AMOUNT: "negative amount of money",
    Reason.DUPLICATE_KEY: "same key as an earlier row",
    Reason.ORPHAN_REFERENCE: "refers to a row that does not exist",
    Reason.MEMBER_OF_OTHER_HOUSEHOLD: "member belongs to another household",
    Reason.FUTURE_DATE: "date after today",
    Reason.BEFORE_BIRTH: "date before the member's birth date",
    Reason.END_BEFORE_START: "end date before start date",
    Reason.ELIMINATION_BEFORE_IDENTIFICATION: "risk eliminated before it was identified",
    Reason.MISSING_ELIMINATION_DATE: "elimination way given without elimination date",
    Reason.MISSING_ELIMINATION_WAY: "elimination date given without elimination way",
    Reason.REQUIRED_FOR_EVENT_TYPE: "required for this event type",
    Reason.OOP_EXCEEDS_TOTAL: "out-of-pocket cost exceeds total cost",
    Reason.ONLY_FOR_POVERTY_ALLEVIATED: "only poverty-alleviated households have this year",
    Reason.EXIT_BEFORE_REGISTRATION: "exit year before registration year",
    Reason.ID_CHECKSUM: "ID number check digit is invalid",
}

WITHHELD = "<withheld>"


@dataclass(frozen=True)
class Violation:
    """One broken rule in one row: `row` is 1-based (the first data row is 1; CSV line = row + 1)."""

    table: str
    row_key: str
    column: str
    reason: str
    value: str | None
    row: int | None = None

    def describe(self) -> str:
        where = f"{self.table} row {self.row} ({self.row_key})" if self.row is not None else self.table
        shown = "" if self.value is None else f": {self.value!r}"
        return f"{where}, {self.column}: {Reason(self.reason).text} [{self.reason}]{shown}"
