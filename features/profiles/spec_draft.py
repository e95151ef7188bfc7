"""A first feature spec drafted from a profile table (`relapse spec draft TABLE > spec.yaml`).

Writing a spec by hand for a 60-column survey is tedious and error-prone; reading the table once gives a good
first version. Every line the draft could not be sure of carries a `# guessed:` comment saying what was
guessed and from what, so that the user checks those and nothing else. The draft parses its own table without
errors (a test trains on one unedited), but only its user knows what a column means.

Guesses, in order: the time column (years or dates, or a name such as `year`), id columns (a name such as `id`
or text unique per row and date), the label (the only yes/no column named like an outcome), fairness groups
(few values, named like county, gender or ethnicity), then a type for every other column: `flag` (only yes/no
words or 0/1), `count` (whole numbers ≥ 0), `number`, `category` (codes or few distinct words). Words inside a
number column become a `values:` map, missing-value spellings a `parse.missing` list.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Final

import pandas as pd

from features.profiles.spec import DEFAULT_MISSING

MISSING_WORDS: Final = frozenset(
    {*DEFAULT_MISSING, "-", "--", ".", "?", "n/a", "N/A", "NA", "na", "NULL", "不详", "未知", "缺失", "无数据"}
)
YES_WORDS: Final = frozenset({"1", "1.0", "true", "t", "yes", "y", "是", "有"})
NO_WORDS: Final = frozenset({"0", "0.0", "false", "f", "no", "n", "否", "无"})
# What `relapse train --label` reads as 0/1 (training.byod.parse_label): a label column must use only these.
LABEL_WORDS: Final = frozenset({"1", "1.0", "true", "yes", "y", "是", "0", "0.0", "false", "no", "n", "否"})
MAX_CATEGORIES: Final = 30
# A number column may hold yes/no words and a few others ("unknown"); more than this share of other words
# makes it text.
MAX_WORD_SHARE: Final = 0.1

_TIME_NAME = re.compile(r"(^|_)(year|date|as_of|time|period|wave|round)($|_)|年份|日期|年度", re.IGNORECASE)
_ID_NAME = re.compile(r"(^|_)(id|hhid|pid|uid|key)($|_)|编号|户号|编码", re.IGNORECASE)
_LABEL_NAME = re.compile(
    r"label|target|outcome|relapse|poverty|poor|identified|returned|fell|^y$|返贫|致贫|纳入监测", re.IGNORECASE
)
_GROUP_NAME = re.compile(
    r"county|province|prefecture|gender|sex|ethnic|minority|nationality|县|性别|民族|省", re.IGNORECASE
)
_MONEY_NAME = re.compile(r"yuan|cost|income|amount|price|spend|debt|元|收入|支出|费用", re.IGNORECASE)
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_YEAR = re.compile(r"^(19|20)\d\d(\.0+)?$")
_DATE = re.compile(r"^(19|20)\d\d[-/.]\d{1,2}([-/.]\d{1,2})?$")
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


@dataclass
class Draft:
    """What the table suggests; `text()` renders it as a commented spec file."""

    source: str
    rows: int
    columns: int
    time: str | None = None
    ids: list[str] = field(default_factory=list)
    label: str | None = None
    label_candidates: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    features: list[tuple[dict[str, object], list[str]]] = field(default_factory=list)  # (entry, comments)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (column, why)

    def command(self) -> str:
        """The `relapse train` line the guesses add up to."""
        parts = [f"relapse train --profiles {self.source} --spec spec.yaml"]
        parts.append(f"--label {self.label}" if self.label else "--label LABEL")
        if self.time:
            parts.append(f"--time {self.time}")
        parts += [f"--group {g}" for g in self.groups]
        return " ".join(parts)

    def text(self) -> str:
        lines = [
            f"# Feature spec drafted by `relapse spec draft` from {self.source} ({self.rows} rows, {self.columns} "
            "columns).",
            "# Every line marked `guessed` is a guess from the data: check it before training. Format: "
            "docs/profiles.md.",
            "# The guesses add up to this command:",
            f"#   {self.command()}",
        ]
        if self.label is None:
            found = ", ".join(self.label_candidates) or "none"
            lines.append(f"# guessed: no label column found for sure (yes/no columns: {found}); name it with --label")
            lines.append("# and delete its entry below: a model must not see its label.")
        if self.label:
            lines.append(f"# guessed: label {self.label} (the only yes/no column named like an outcome), not a feature")
        if self.time:
            lines.append(f"# guessed: time column {self.time} (years or dates), not a feature")
        for group in self.groups:
            lines.append(f"# guessed: fairness group {group} (few values, named like a group), not a feature")
        for column, why in self.left_out:
            lines.append(f"# left out: {column} ({why})")
        lines += ["version: 1", f"id_columns: {_flow(self.ids)}" + ("  # guessed" if self.ids else ""), "features:"]
        for entry, comments in self.features:
            lines.append(f"  # guessed: {'; '.join(comments)}")
            lines.append(f"  - name: {_flow(entry['name'])}")
            lines += [f"    {key}: {_flow(value)}" for key, value in entry.items() if key != "name"]
        return "\n".join(lines) + "\n"


def draft_spec(frame: pd.DataFrame, source: str) -> Draft:
    """A draft spec for `frame` (every cell as text, as `training.byod.read_profile_table` reads a CSV)."""
    text = frame.astype(object).map(lambda v: "" if v is None or v is pd.NA or v != v else str(v).strip())
    draft = Draft(source, len(frame), len(frame.columns))
    kinds = {str(c): _Column(str(c), text[c]) for c in frame.columns}

    times = [c for c, k in kinds.items() if k.is_time() and (_TIME_NAME.search(c) or k.distinct <= 50)]
    named_times = [c for c in times if _TIME_NAME.search(c)]
    draft.time = next(iter(named_times or times), None)
    time_cells = text[draft.time] if draft.time else None
    unique = [n for n, k in kinds.items() if n != draft.time and k.is_unique(time_cells)]
    named = [n for n in unique if _ID_NAME.search(n)]
    codes = [n for n in unique if kinds[n].word_share == 1.0 and not any(" " in v for v in kinds[n].values)]
    draft.ids = named or codes[:1]
    if draft.ids and draft.time:
        draft.ids.append(draft.time)
    binaries = [c for c, k in kinds.items() if k.is_flag() and c not in draft.ids]
    draft.label_candidates = binaries
    outcome_like = [
        c for c in binaries if _LABEL_NAME.search(c) and {v.casefold() for v in kinds[c].values} <= LABEL_WORDS
    ]
    draft.label = outcome_like[0] if len(outcome_like) == 1 else None
    taken = {*draft.ids, draft.time, draft.label}
    draft.groups = [c for c, k in kinds.items() if c not in taken and _GROUP_NAME.search(c) and k.is_groupish()]
    for name, column in kinds.items():
        if name in taken or name in draft.groups:
            continue
        entry = column.entry()
        if entry is None:
            draft.left_out.append((name, column.why_left_out()))
        else:
            draft.features.append(entry)
    return draft


class _Column:
    """One column's cells as text, and what they look like."""

    def __init__(self, name: str, cells: pd.Series) -> None:
        self.name = name
        self.cells = cells
        self.missing_seen = sorted({c for c in cells.unique() if c in MISSING_WORDS})
        self.present = cells[~cells.isin(MISSING_WORDS)]
        self.values = self.present.unique().tolist()
        self.distinct = len(self.values)
        numeric = self.present.map(lambda c: bool(_NUMBER.match(c)))
        yes_no = self.present.map(lambda c: c.casefold() in YES_WORDS | NO_WORDS)
        self.numbers = pd.to_numeric(self.present[numeric], errors="coerce")
        self.words = sorted(set(self.present[~numeric]))
        self.word_share = float((~numeric).mean()) if len(self.present) else 0.0
        # Words other than yes/no: what makes a column text rather than numbers with a few words in them.
        self.other_word_share = float((~numeric & ~yes_no).mean()) if len(self.present) else 0.0
        self.number_share = float(numeric.mean()) if len(self.present) else 0.0

    def is_time(self) -> bool:
        return bool(self.distinct) and all(_YEAR.match(v) or _DATE.match(v) for v in self.values)

    def is_unique(self, time: pd.Series | None) -> bool:
        """Never missing and one row per value (per value and date with a time column): an id if named like one."""
        if len(self.present) < len(self.cells) or self.distinct <= MAX_CATEGORIES:
            return False
        pairs = self.cells if time is None else self.cells + "\x00" + time
        return not pairs.duplicated().any()

    def is_flag(self) -> bool:
        folded = {v.casefold() for v in self.values}
        return bool(folded) and folded <= YES_WORDS | NO_WORDS and bool(folded & YES_WORDS) and bool(folded & NO_WORDS)

    def is_codes(self) -> bool:
        """Digit strings with a leading zero ("0301"): codes to keep as text, not numbers."""
        return self.word_share == 0.0 and any(len(v) > 1 and v[0] == "0" and v.isdigit() for v in self.values)

    def is_groupish(self) -> bool:
        return 2 <= self.distinct <= MAX_CATEGORIES

    def entry(self) -> tuple[dict[str, object], list[str]] | None:
        entry: dict[str, object] = {"name": self.name}
        notes: list[str] = []
        if self.is_flag():
            entry["type"] = "flag"
            spellings = sorted(self.values, key=str.casefold)
            if not {v.casefold() for v in self.values} <= {"0", "1"}:
                entry["values"] = _dedupe({v: 1 if v.casefold() in YES_WORDS else 0 for v in spellings})
            notes.append("a flag (only yes/no words and 0/1)")
        elif self.is_codes() or (self.other_word_share > MAX_WORD_SHARE and self.is_groupish()):
            if not 1 <= self.distinct <= MAX_CATEGORIES:
                return None
            entry["type"] = "category"
            entry["parse"] = {"categories": sorted(self.values)}
            notes.append(f"a category of {self.distinct} values" + (" (codes)" if self.is_codes() else ""))
        elif self.number_share >= 0.5 and self.other_word_share <= MAX_WORD_SHARE and len(self.words) <= 10:
            whole = bool(len(self.numbers)) and bool((self.numbers == self.numbers.round()).all())
            money = bool(_MONEY_NAME.search(self.name))
            entry["type"] = "count" if whole and not money and (self.numbers >= 0).all() else "number"
            notes.append(
                "a count (whole numbers ≥ 0)"
                if entry["type"] == "count"
                else "a number" + (" (named like money)" if whole and money else "")
            )
            if self.words:
                mapped = _dedupe({w: _word_value(w) for w in self.words})
                entry["values"] = mapped
                notes.append(
                    f"the words {', '.join(map(repr, self.words))} mapped as shown (yes 1, no 0, else missing)"
                )
        else:
            return None
        if [m for m in self.missing_seen if m not in DEFAULT_MISSING]:
            entry.setdefault("parse", {})
            parse = entry["parse"]
            assert isinstance(parse, dict)
            parse["missing"] = sorted({"", *self.missing_seen})
            notes.append(f"missing written as {', '.join(map(repr, self.missing_seen))}")
        return entry, notes

    def why_left_out(self) -> str:
        if not self.distinct:
            return "always missing"
        return f"free text: {self.distinct} distinct values; add it as a category if it is one"


def _word_value(word: str) -> int | None:
    folded = word.casefold()
    return 1 if folded in YES_WORDS else 0 if folded in NO_WORDS else None


def _dedupe(mapping: dict[str, int | None]) -> dict[str, int | None]:
    """One key per spelling that differs by more than case (the spec's keys ignore case)."""
    out: dict[str, int | None] = {}
    seen: set[str] = set()
    for key, value in mapping.items():
        if key.casefold() not in seen:
            seen.add(key.casefold())
            out[key] = value
    return out


def _flow(value: object) -> str:
    """A YAML flow value: a plain name as it is, anything else as JSON (which is valid YAML)."""
    if (
        isinstance(value, str)
        and _PLAIN.match(value)
        and value.casefold() not in {"null", "yes", "no", "true", "false"}
    ):
        return value
    return json.dumps(value, ensure_ascii=False)
