"""Region scoping (docs/architecture.md, non-negotiable 6): a key for one county never sees another county's households.

A `Scope` is an administrative-code prefix. Every read and write in `service.store` takes one and filters in SQL
with `region_code LIKE '<prefix>%'`, so rows outside it are never loaded, counted or revealed. Prefixes are whole
levels of the 12-digit code (GB/T 2260 + the statistical village code): 2 province, 4 city, 6 county,
9 township, 12 village, or "" for everything (admin keys only). A partial level such as "9" would silently
span ten provinces, so it is refused; digits only, so no LIKE wildcard (`%`, `_`) can ever reach the pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import InstrumentedAttribute

from service.errors import InvalidFieldError, OutOfScopeError

PREFIX_LENGTHS: Final = (0, 2, 4, 6, 9, 12)
LEVEL_NAMES: Final = {0: "everything", 2: "province", 4: "city", 6: "county", 9: "township", 12: "village"}
REGION_CODE_LENGTH: Final = 12


def check_prefix(value: object, field: str = "region_prefix", row: int | None = None) -> str:
    """The value as a valid prefix, or `InvalidFieldError` naming the field."""
    if not isinstance(value, str):
        raise InvalidFieldError(field, "must be a string of digits", row)
    if not value.isascii() or not (value == "" or value.isdigit()):
        raise InvalidFieldError(field, "must contain digits only", row)
    if len(value) not in PREFIX_LENGTHS:
        raise InvalidFieldError(field, f"must have one of the lengths {PREFIX_LENGTHS} (a whole region level)", row)
    return value


def check_region_code(value: object, field: str = "region_code", row: int | None = None) -> str:
    """A 12-digit village code, or `InvalidFieldError` naming the field."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) != REGION_CODE_LENGTH:
        raise InvalidFieldError(field, f"must be a {REGION_CODE_LENGTH}-digit village code", row)
    return value


@dataclass(frozen=True, slots=True)
class Scope:
    """The regions a caller may see: every region code that starts with `region_prefix`."""

    region_prefix: str

    def __post_init__(self) -> None:
        check_prefix(self.region_prefix)

    @classmethod
    def everything(cls) -> Scope:
        return cls("")

    @property
    def level(self) -> str:
        return LEVEL_NAMES[len(self.region_prefix)]

    def contains(self, region_code: str) -> bool:
        """Whether a region code (or a narrower prefix) lies inside this scope."""
        return region_code.startswith(self.region_prefix)

    def covers(self, other: Scope) -> bool:
        """Whether every region of `other` lies inside this scope."""
        return other.region_prefix.startswith(self.region_prefix)

    def narrow(self, region: str, field: str = "region_code") -> Scope:
        """The scope of `region` (a prefix or a village code) if it lies inside this one, else `OutOfScopeError`.

        The answer depends on the two codes only, never on stored data, so it reveals nothing about households.
        """
        inner = Scope(check_prefix(region, field))
        if not self.covers(inner):
            raise OutOfScopeError(field, "lies outside the caller's region scope")
        return inner

    def require(self, region_code: str, field: str = "region_code", row: int | None = None) -> None:
        """`OutOfScopeError` naming the field and row unless the region code lies inside this scope."""
        if not self.contains(region_code):
            raise OutOfScopeError(field, "lies outside the caller's region scope", row)

    def filter(self, column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
        """The SQL condition `column LIKE '<prefix>%'` (always true for the whole country)."""
        if not self.region_prefix:
            return true()
        return column.like(f"{self.region_prefix}%")

    def __str__(self) -> str:
        return self.region_prefix or "*"
