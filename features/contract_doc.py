"""Render `docs/data-contract.md` from `features.contract.tables` (the doc is generated, never edited by hand).

A test compares the committed file with `render_contract_doc()`, so the doc cannot drift from the code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from features.contract.dtypes import pandas_dtype
from features.contract.tables import CODES_SEPARATOR, PSEUDONYM_COLUMNS, TABLES, Column, Table, codes
from features.contract.violations import Reason
from features.pseudonyms.keys import PSEUDONYM_HEX_CHARS
from features.validation._row_rules import FUTURE_ALLOWED, MEMBER_DATES, REQUIRED_BY_EVENT_TYPE

DOC_PATH: Final = Path(__file__).resolve().parents[1] / "docs" / "data-contract.md"

_INTRO: Final = f"""\
# Source-data contract (数据契约)

Generated from `features/contract/tables.py` by `relapse docs` — do not edit by hand.

A source folder holds one file per table, `<table>.parquet` or `<table>.csv` (UTF-8, with or without BOM,
or GB 18030), plus an optional manifest `dataset.json`. Tables a deployment does not have yet may be absent.
Check a folder with `relapse validate PATH`; load it with `relapse ingest SRC --out DIR`.

Reading rules:
- Every column is coerced to its type: text → `string`, integers → `Int64`, decimals → `float64`, yes/no →
  `boolean`, dates → `datetime64[ns]` (`YYYY-MM-DD`; also `YYYY/MM/DD`, `YYYYMMDD`, `YYYY年M月D日`).
- Empty cells are missing values. Missing values are normal input; only *required* columns must be filled.
- Code columns accept the code, its Chinese label or its English label (`脱贫户` → `poverty_alleviated`).
  Multi-code columns (type `codes`) join codes with `{CODES_SEPARATOR}` (`、` and `,` are accepted too):
  `长期慢性病|残疾` → `chronic|disabled`.
- Yes/no columns accept `true/false`, `1/0`, `yes/no`, `是/否`.
- Columns not in the contract are dropped with a warning, except `name` and `id_number` (removed at
  ingestion) and the pseudonym columns {", ".join(f"`{c}`" for c in PSEUDONYM_COLUMNS)}.
- Row numbers in validation messages count data rows from 1 (in a CSV, line = row + 1).

Ingestion replaces `members.id_number` (checked against the GB 11643 check digit) by `person_pseudonym` — the
first {PSEUDONYM_HEX_CHARS} hex characters of HMAC-SHA256 under the deployment's secret key — and
`pseudonym_key_version`, and drops every `name` column.
"""


def render_contract_doc() -> str:
    parts = [_INTRO, _overview(), *(_table_section(t) for t in TABLES.values()), _rules(), _code_lists()]
    return "\n".join(parts).rstrip() + "\n"


def write_contract_doc(path: Path = DOC_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_contract_doc(), encoding="utf-8")
    return path


def _overview() -> str:
    lines = ["## Tables", "", "| table | 中文 | English | key | time column |", "|---|---|---|---|---|"]
    for t in TABLES.values():
        key = ", ".join(f"`{k}`" for k in t.key)
        time = f"`{t.time_column}`" if t.time_column else "—"
        lines.append(f"| [`{t.name}`](#{t.name}) | {t.zh} | {t.en} | {key} | {time} |")
    return "\n".join(lines) + "\n"


def _table_section(table: Table) -> str:
    lines = [f'<a id="{table.name}"></a>', f"## `{table.name}` — {table.zh} ({table.en})", ""]
    lines.append(f"Key: {', '.join(f'`{k}`' for k in table.key)}.")
    if table.time_column:
        lines.append(f"Time column: `{table.time_column}` (a profile as of D reads only rows dated before D).")
    lines += ["", *(f"- {note}" for note in table.notes)]
    if table.notes:
        lines.append("")
    lines += [
        "| column | type | unit | required | 中文 | English | allowed values and checks |",
        "|---|---|---|---|---|---|---|",
    ]
    for column in table.columns:
        kind = f"{column.kind} (`{pandas_dtype(column)}`)"
        required = "yes" if not column.nullable else ""
        unit = column.unit or ""
        cells = (f"`{column.name}`", kind, unit, required, column.zh, column.en, _checks(column))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _checks(column: Column) -> str:
    checks = []
    if column.codes is not None:
        name = _code_list_name(column.codes)
        if len(column.codes) <= 3:
            inline = ", ".join(f"`{c}` {zh}" for c, (zh, _) in column.codes.items())
            checks.append(f"{inline} ([list](#{name.lower()}))")
        else:
            checks.append(f"[{name}](#{name.lower()}) ({len(column.codes)} codes)")
        if column.kind == "codes":
            checks.append(f"several joined by `\\{CODES_SEPARATOR}`")  # escaped: the cell is in a table
    if column.minimum is not None:
        checks.append(f"≥ {column.minimum:g}")
    if column.maximum is not None:
        checks.append(f"≤ {column.maximum:g}")
    if column.pattern:
        checks.append(f"format `{column.pattern}`")
    if column.references:
        table, col = column.references.split(".")
        checks.append(f"must exist in [`{table}`](#{table}).`{col}`")
    if column.personal:
        checks.append("personal: pseudonymised at ingestion")
    return "; ".join(checks)


def _rules() -> str:
    required = "; ".join(
        f"`{kind}` needs {', '.join(f'`{c}`' for c in cols)}" for kind, cols in REQUIRED_BY_EVENT_TYPE.items()
    )
    member_dates = ", ".join(f"`{t}.{c}`" for t, c in MEMBER_DATES)
    future = ", ".join(f"`{t}.{c}`" for t, c in sorted(FUTURE_ALLOWED))
    lines = [
        "## Rules across columns and tables",
        "",
        f"- Events: {required}; `oop_cost_yuan` ≤ `total_cost_yuan`.",
        f"- No date after today (except {future}); {member_dates} not before the member's birth date.",
        "- `events` and `assistance`: a `member_id` must belong to the row's `household_id`.",
        "- `assistance.end_date` and `civil_affairs.end_date` ≥ their `start_date`; "
        "`identifications.elimination_date` ≥ `identified_date`, and "
        "`elimination_date` and `elimination_way` are both filled or both empty.",
        "- `households`: `registration_year` and `exit_year` only for `poverty_alleviated`; exit ≥ registration.",
        "- `member_status.health`: `healthy` cannot be combined with another state.",
        "- Each table's key is unique.",
        "",
        "Reasons reported by `relapse validate`:",
        "",
        "| reason | meaning |",
        "|---|---|",
        *(f"| `{r.value}` | {r.text} |" for r in Reason),
    ]
    return "\n".join(lines) + "\n"


def _code_list_name(labels: codes.Labels) -> str:
    for name, value in vars(codes).items():
        if value is labels and name.isupper():
            return name
    raise KeyError("code list not defined in features.contract.codes")


def _code_lists() -> str:
    used: dict[str, list[str]] = {}
    lists: dict[str, codes.Labels] = {}
    for table in TABLES.values():
        for column in table.columns:
            if column.codes is not None:
                name = _code_list_name(column.codes)
                lists[name] = column.codes
                used.setdefault(name, []).append(f"`{table.name}.{column.name}`")
    lines = ["## Code lists", ""]
    for name, labels in lists.items():
        lines += [f'<a id="{name.lower()}"></a>', f"### {name}", "", f"Used by {', '.join(used[name])}.", ""]
        lines += ["| code | 中文 | English |", "|---|---|---|"]
        lines += [f"| `{code}` | {zh} | {en} |" for code, (zh, en) in labels.items()]
        lines.append("")
    return "\n".join(lines)
