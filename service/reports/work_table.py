"""The work list in words: the page's groups, and the same rows as CSV and Excel for the office's own files.

One row per household with the columns a grid worker needs at the door — place, household number, monitoring
status, the monitoring type it would enter as, why now, top reasons, eligible measures — and three blank columns
(visit date, outcome, signature) that are filled in by hand after the visit. The page, the CSV and the Excel file
share `rows()`, so the printed list and the file agree cell for cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any, Final

from features.contract import codes
from features.profiles.status import ELIMINATED, MONITORED, STATUSES, UNKNOWN
from models.reasons import reason_names
from service._scores import ScoreView
from service._summary import RISK_TYPE_KEYS
from service.reports.i18n import Messages
from service.reports.worklist import Place, WorkList, WorkRow
from service.visits import OUTCOMES

TOP_REASONS: Final = 3
BLANK_COLUMNS: Final = ("visit_date", "visit_outcome", "signature")
COLUMNS: Final = (
    "county",
    "township",
    "village",
    "rank",
    "pseudonym",
    "status",
    "expected_type",
    "level",
    "probability",
    "why_now",
    "reasons",
    "measures",
    "last_visit",
    *BLANK_COLUMNS,
)


def place_name(place: Place, level: str) -> str:
    """The name of the place's county, township or village, or its code where the reference has no name."""
    name, code = {
        "county": (place.county, place.county_code),
        "township": (place.township, place.township_code),
        "village": (place.village, place.village_code),
    }[level]
    return name or code


def reason_label(reason: Mapping[str, Any], m: Messages) -> str:
    zh, en = reason_names(str(reason.get("key", "")))
    return m.pick(str(reason.get("zh") or zh), str(reason.get("en") or en))


def status_text(view: ScoreView, m: Messages) -> str:
    """The household's monitoring status as of the score's date, with its details: 已纳入监测（脱贫不稳定户，
    因病，2024年3月5日纳入）, 已风险消除（2025年1月2日消除，帮扶消除）, 未纳入监测, 监测状态未知."""
    status = view.monitoring_status if view.monitoring_status in STATUSES else UNKNOWN
    label = m.pick(*STATUSES[status])
    if status == MONITORED:
        details = [
            *([m.pick(*codes.MONITORING_TYPES[view.monitoring_type])] if view.monitoring_type else []),
            *(m.pick(*codes.RISK_TYPES[c]) for c in view.monitoring_risk_types if c in codes.RISK_TYPES),
            *([m.t("status.identified_on", date=m.date(view.identified_date))] if view.identified_date else []),
        ]
        return m.t("status.monitored_detail", details=m.t("punct.comma").join(details)) if details else label
    if status == ELIMINATED:
        details = [
            *([m.t("status.eliminated_on", date=m.date(view.elimination_date))] if view.elimination_date else []),
            *([m.pick(*codes.ELIMINATION_WAYS[view.elimination_way])] if view.elimination_way else []),
        ]
        return m.t("status.eliminated_detail", details=m.t("punct.comma").join(details)) if details else label
    return label


def expected_type_text(view: ScoreView, m: Messages) -> str:
    """The monitoring type the household would enter as (a current monitoring object's recorded type); empty for a
    score stored without one."""
    code = view.expected_monitoring_type
    return m.pick(*codes.MONITORING_TYPES[code]) if code in codes.MONITORING_TYPES else ""


def why_now(row: WorkRow, m: Messages) -> str:
    """What changed since the household's previous score: new reasons and the change of the probability.

    A household scored once has nothing to compare with; its evidence stands in — the first of its top reasons
    that names an official risk type (reasons name one only with evidence of it: a cost, an event, a failed
    check), with the household's own values — or, when every top reason is background, that there is none."""
    if row.previous is None:
        evidence = next((r for r in row.view.reasons if str(r.get("key")) in RISK_TYPE_KEYS), None)
        if evidence is None:
            return m.t("worklist.first_background")
        sentence = str(evidence.get(f"sentence_{m.lang}") or "")
        name = reason_label(evidence, m)
        return m.t("worklist.first_evidence", evidence=name + (m.t("punct.paren", text=sentence) if sentence else ""))
    new = [reason_label(r, m) for r in row.view.reasons if str(r.get("key")) in set(row.new_reason_keys)]
    day = m.date(row.previous.as_of)
    text = (
        m.t("worklist.new_reasons", date=day, reasons=m.join(new)) if new else m.t("worklist.no_new_reasons", date=day)
    )
    points = (row.view.probability - row.previous.probability) * 100
    return text + m.t("punct.semicolon") + m.t("worklist.change", points=f"{points:+.1f}")


def last_visit(row: WorkRow, m: Messages) -> str:
    """The household's last standing home visit: its date and outcome, or that there was none."""
    if row.visit is None:
        return m.t("worklist.never_visited")
    zh, en = OUTCOMES.get(row.visit.outcome, (row.visit.outcome, row.visit.outcome))
    return m.t("worklist.last_visit", date=m.date(row.visit.visited_on), outcome=m.pick(zh, en))


def rows(work: WorkList, m: Messages) -> list[dict[str, str]]:
    """Every listed household as cells of `COLUMNS` (the blank ones empty), village by village."""
    out = []
    for village in work.villages:
        for rank, row in enumerate(village.rows, start=1):
            view = row.view
            out.append(
                {
                    "county": place_name(village.place, "county"),
                    "township": place_name(village.place, "township"),
                    "village": place_name(village.place, "village"),
                    "rank": str(rank),
                    "pseudonym": view.household_pseudonym,
                    "status": status_text(view, m),
                    "expected_type": expected_type_text(view, m),
                    "level": m.t(f"level.{view.level.value}"),
                    "level_key": view.level.value,
                    "probability": f"{view.probability * 100:.1f}%",
                    "why_now": why_now(row, m),
                    "reasons": m.join(reason_label(r, m) for r in view.reasons[:TOP_REASONS]),
                    "measures": m.join(m.pick(str(x.get("zh", "")), str(x.get("en", ""))) for x in view.measures),
                    "last_visit": last_visit(row, m),
                    **dict.fromkeys(BLANK_COLUMNS, ""),
                }
            )
    return out


def headers(m: Messages, columns: Sequence[str] = COLUMNS) -> list[str]:
    return [m.t(f"table.{column}") for column in columns]


def to_csv(work: WorkList, m: Messages) -> bytes:
    return table_csv(COLUMNS, rows(work, m), m)


def table_csv(columns: Sequence[str], cells: Sequence[Mapping[str, str]], m: Messages) -> bytes:
    """UTF-8 with a byte-order mark, which Excel needs to open Chinese text from a CSV file correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers(m, columns))
    writer.writerows([row[c] for c in columns] for row in cells)
    return buffer.getvalue().encode("utf-8-sig")


_WIDTHS: Final = {
    "why_now": 34,
    "reasons": 22,
    "risk_types": 34,
    "measures": 30,
    "visit_outcome": 24,
    "signature": 14,
}


def to_xlsx(work: WorkList, m: Messages, title: str, notes: Sequence[str] = ()) -> bytes:
    return table_xlsx(COLUMNS, rows(work, m), m, title, notes, m.t("worklist.sheet"))


def table_xlsx(
    columns: Sequence[str],
    cells: Sequence[Mapping[str, str]],
    m: Messages,
    title: str,
    notes: Sequence[str],
    sheet_name: str,
) -> bytes:
    """One sheet: the title and notes above the table, a bold header that repeats on every printed page,
    A4 landscape fitted to the page width, wrapped cells and bordered blank columns to write in."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = sheet_name
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    for note in notes:
        sheet.append([note])
    header_row = sheet.max_row + 1
    sheet.append(headers(m, columns))
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        cell.border = border
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in cells:
        sheet.append([row[c] for c in columns])
        for cell in sheet[sheet.max_row]:
            cell.border = border
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = _WIDTHS.get(column, 12)
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
