"""Typed errors of the `features` package.

The service maps them to RFC 9457 problem+json; each carries enough to name the table, row and field
(docs/architecture.md, non-negotiable 8) and never the value of a personal column.
"""

from __future__ import annotations

from collections.abc import Sequence

from features.contract.violations import Violation


class FeaturesError(Exception):
    """Base class of the errors raised by `features`."""


class SourceDataError(FeaturesError):
    """Source tables break the contract; `violations` lists the (capped) offending rows."""

    def __init__(self, message: str, violations: Sequence[Violation], total: int | None = None):
        super().__init__(message)
        self.violations = list(violations)
        self.total = len(self.violations) if total is None else total  # counted in full; examples are capped

    def __str__(self) -> str:
        lines = [super().__str__()]
        lines += [f"  {v.describe()}" for v in self.violations[:20]]
        if len(self.violations) > 20:
            lines.append(f"  … and {len(self.violations) - 20} more")
        return "\n".join(lines)


class SourceFolderError(FeaturesError):
    """The source folder cannot be read at all (missing, or a file in an unknown format)."""


class PseudonymKeyError(FeaturesError):
    """No usable pseudonym key: none configured, or the configured one is too weak."""
