"""The hidden-need list in words: the region page's section and the same rows as CSV and Excel.

County by county, each county's households in the order of its list, with the columns a grid worker needs at the
door — place, household number, monitoring status, the monitoring type it would enter as, level, probability,
the probability that the usual channels identify it (the second output; a low one is need nobody would find), the
risk types behind it with the household's own values, the eligible measures — and the work list's three blank
columns to fill in after the visit. The page and the files share `rows()`, so they agree cell for cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from service.reports import pages, work_table
from service.reports.hidden_need import HiddenNeedList, HiddenNeedRow
from service.reports.i18n import Messages
from service.reports.worklist import Place

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
    "identification",
    "risk_types",
    "rule_flags",
    "measures",
    *work_table.BLANK_COLUMNS,
)
PAGE_ROWS: Final = 50  # rows the region page shows; the files hold the whole list


def risk_types_text(row: HiddenNeedRow, m: Messages) -> str:
    """The risk types behind the household, each with its evidence in the household's own values; or that its top
    reasons are all background (its probability rests on income, composition and the like)."""
    named = []
    for reason in row.risk_reasons:
        sentence = str(reason.get(f"sentence_{m.lang}") or "")
        label = work_table.reason_label(reason, m)
        named.append(label + (m.t("punct.paren", text=sentence) if sentence else ""))
    return m.join(named) if named else m.t("hidden_need.background")


def rows(listed: Sequence[HiddenNeedRow], m: Messages) -> list[dict[str, str]]:
    """Every row as cells of `COLUMNS` (the blank ones empty), by county, then the county's order."""
    out = []
    for row in sorted(listed, key=lambda r: (r.entry.county_code, r.entry.county_rank)):
        view = row.view
        out.append(
            {
                "county": work_table.place_name(row.place, "county"),
                "township": work_table.place_name(row.place, "township"),
                "village": work_table.place_name(row.place, "village"),
                "rank": str(row.entry.county_rank),
                "pseudonym": view.household_pseudonym,
                "status": work_table.status_text(view, m),
                "expected_type": work_table.expected_type_text(view, m),
                "level": m.t(f"level.{view.level.value}"),
                "level_key": view.level.value,
                "probability": _percent(view.probability),
                "identification": _percent(view.identification_probability),
                "risk_types": risk_types_text(row, m),
                "rule_flags": m.join(pages.rule_texts(view.rule_flags, m)) or "—",
                "measures": m.join(m.pick(str(x.get("zh", "")), str(x.get("en", ""))) for x in view.measures),
                **dict.fromkeys(work_table.BLANK_COLUMNS, ""),
            }
        )
    return out


def _percent(p: float | None) -> str:
    return "—" if p is None else f"{pages.percent(p)}%"


def note(listed: HiddenNeedList, m: Messages) -> str:
    """How the list was made, in one paragraph: the share, the flagged households listed (or left out), those a
    visit settled, and the count."""
    # With flagged households listed (the default) the count is of those on the list; else of those left out.
    listed_flagged = sum(entry.flagged for entry in listed.entries)
    return m.t(
        "hidden_need.note" if listed.include_flagged else "hidden_need.note_without_flagged",
        share=f"{listed.share * 100:g}",
        n=f"{len(listed.entries):,}",
        counties=len(listed.counties),
        flagged=f"{listed_flagged if listed.include_flagged else sum(c.flagged for c in listed.counties):,}",
        settled=f"{sum(c.settled for c in listed.counties):,}",
    )


def counties(listed: HiddenNeedList, places: Mapping[str, Place], m: Messages) -> list[dict[str, str]]:
    """One row per county: its households, the list's size and how many were listed or left out."""
    names = {place.county_code: place for place in places.values()}
    return [
        {
            "county": (names[c.county_code].county if c.county_code in names else "") or c.county_code,
            "households": f"{c.households:,}",
            "size": f"{c.size:,}",
            "listed": f"{c.listed:,}",
            "flagged": f"{c.flagged:,}",
            "settled": f"{c.settled:,}",
        }
        for c in listed.counties
    ]


def context(
    listed: HiddenNeedList, shown: Sequence[HiddenNeedRow], places: Mapping[str, Place], m: Messages
) -> dict[str, Any]:
    """The region page's section: the note, the county counts and the first `PAGE_ROWS` rows of the list."""
    return {
        "note": note(listed, m),
        "counties": counties(listed, places, m),
        "rows": rows(shown, m),
        "n": len(listed.entries),
        "shown_note": m.t("hidden_need.shown", shown=len(shown), n=f"{len(listed.entries):,}")
        if len(shown) < len(listed.entries)
        else "",
    }


def to_csv(listed: Sequence[HiddenNeedRow], m: Messages) -> bytes:
    return work_table.table_csv(COLUMNS, rows(listed, m), m)


def to_xlsx(listed: Sequence[HiddenNeedRow], m: Messages, title: str, notes: Sequence[str] = ()) -> bytes:
    return work_table.table_xlsx(COLUMNS, rows(listed, m), m, title, notes, m.t("hidden_need.sheet"))
