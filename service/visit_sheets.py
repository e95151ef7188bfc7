"""Grid workers' offline visit sheets (CSV or Excel) → visits, validated whole before anything is stored.

A sheet has one visit per row. Its header may be in English (the API's field names, plus `household_id`) or in
Chinese as the printed work list writes it (户编号, 走访日期, …: `HEADERS`). Cells may hold codes or the Chinese
labels people write (纳入监测, 网格员, 因病, 医疗救助); lists (risk types, measures) are separated by `;`, `；`,
`,`, `，`, `、` or spaces. Empty cells are missing values.

Every row is checked — its fields (`service.visits.VisitIn`), and that its household is known to the service —
and every problem is reported with its row and field. Only a sheet without any problem is stored, in one
transaction: a sheet is never half imported. Rows are counted from 1 over the data rows (the header is not a row).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pandas as pd
from pydantic import ValidationError
from sqlalchemy.orm import Session

from features.contract import codes
from service.errors import InvalidFieldError, NotFoundError
from service.scope import Scope
from service.visits import OUTCOMES, VISITOR_ROLES, VisitIn, VisitProblem, problems_of, record_visit

HEADERS: Final[dict[str, str]] = {
    "户编号": "household_id",
    "走访日期": "visited_on",
    "走访人员": "visitor_role",
    "网格": "visitor_grid",
    "清单版本": "list_version",
    "清单序号": "list_rank",
    "走访结果": "outcome",
    "监测类型": "monitoring_type",
    "风险类型": "risk_types",
    "已启动措施": "measures_started",
    "下次回访日期": "next_review_on",
    "备注": "note",
    "更正记录": "corrects",
}
FIELDS: Final = ("household_id", *VisitIn.model_fields)
_LIST_SEPARATORS: Final = re.compile(r"[;；,，、\s]+")


def _by_label(labels: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Code → code, zh label → code and en label → code (case-insensitive for English)."""
    out = {code: code for code in labels}
    for code, (zh, en) in labels.items():
        out[zh] = code
        out[en.lower()] = code
    return out


_VALUES: Final[dict[str, dict[str, str]]] = {
    "outcome": _by_label(OUTCOMES),
    "visitor_role": _by_label(VISITOR_ROLES),
    "monitoring_type": _by_label(codes.MONITORING_TYPES),
    "risk_types": _by_label(codes.RISK_TYPES),
    "measures_started": _by_label(codes.MEASURES),
}


def read_sheet(path: Path) -> pd.DataFrame:
    """The sheet's cells as text ("" for empty), with Chinese headers renamed to field names."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        frame = pd.read_excel(path, dtype=str, keep_default_na=False)
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame.columns = [HEADERS.get(str(c).strip(), str(c).strip()) for c in frame.columns]
    return frame


def sheet_visits(frame: pd.DataFrame) -> Iterator[tuple[int, str, VisitIn | None, list[VisitProblem]]]:
    """(row, household id, visit or None, problems) for every data row."""
    unknown = [c for c in frame.columns if c not in FIELDS]
    if "household_id" not in frame.columns or unknown:
        missing = [] if "household_id" in frame.columns else ["household_id (户编号)"]
        raise InvalidFieldError(
            "header",
            "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"unknown column(s) {', '.join(unknown)}" if unknown else "",
                )
                if part
            ),
        )
    for row, cells in enumerate(frame.to_dict(orient="records"), start=1):
        household = str(cells.pop("household_id", "")).strip()
        problems = [] if household else [VisitProblem(row, "household_id", "is empty")]
        try:
            visit: VisitIn | None = VisitIn.model_validate(_values({str(k): v for k, v in cells.items()}))
        except ValidationError as error:
            visit = None
            problems += problems_of(error.errors(), row)  # type: ignore[arg-type]
        yield row, household, visit, problems


def _values(cells: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, raw in cells.items():
        text = str(raw).strip()
        if not text:
            continue
        labels = _VALUES.get(name)
        if name in ("risk_types", "measures_started"):
            parts = [p for p in _LIST_SEPARATORS.split(text) if p]
            out[name] = [labels.get(p, labels.get(p.lower(), p)) if labels else p for p in parts]
        elif labels is not None:
            out[name] = labels.get(text, labels.get(text.lower(), text))
        else:
            out[name] = text
    return out


def import_sheet(
    session: Session, scope: Scope, frame: pd.DataFrame, progress: Callable[[int, int], None] | None = None
) -> tuple[int, list[VisitProblem]]:
    """Check every row and, only if none has a problem, store them all (the caller's transaction): (stored, problems).

    With problems nothing is added to the session; the caller rolls back or simply does not commit."""
    problems: list[VisitProblem] = []
    checked: list[tuple[int, str, VisitIn]] = []
    for row, household, visit, found in sheet_visits(frame):
        problems += found
        if visit is not None and not found:
            checked.append((row, household, visit))
        if progress is not None:
            progress(row, len(frame))
    if problems:
        return 0, problems
    stored = 0
    with session.no_autoflush:
        for row, household, visit in checked:
            try:
                with session.begin_nested():
                    record_visit(session, scope, household, visit, key_id=None, source="import")
                stored += 1
            except NotFoundError:
                problems.append(VisitProblem(row, "household_id", "no household with this id has been scored here"))
            except InvalidFieldError as error:
                problems.append(VisitProblem(row, error.field, error.reason))
    return (0, problems) if problems else (stored, [])
