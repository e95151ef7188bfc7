"""Message catalogues: every word a report shows comes from `messages/<lang>.json`, none from the templates.

Domain names (risk types, rule flags, measures, features) come from the catalogues the rest of the system
already keeps in both languages (`features.contract.codes`, `features.profiles.rules`, `models.measure_table`,
`features.profiles.catalogue`); this module adds the words of the pages themselves. A missing key is an error, never a
silently blank label: `tests/service/test_reports_i18n.py` checks both catalogues carry the same keys and every
key the templates use.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

Lang = Literal["zh", "en"]
LANGS: Final[tuple[Lang, ...]] = ("zh", "en")
DEFAULT_LANG: Final[Lang] = "zh"
HTML_LANG: Final[dict[Lang, str]] = {"zh": "zh-CN", "en": "en"}
MESSAGES_DIR: Final = Path(__file__).parent / "messages"
# Pages show times as the offices read them, in China Standard Time; the API keeps UTC.
LOCAL_TIME: Final = ZoneInfo("Asia/Shanghai")


class UnknownLanguageError(ValueError):
    """A language other than zh or en was asked for."""


def parse_lang(value: str | None) -> Lang:
    """`zh` (also zh-CN, zh_CN) or `en`; None gives the default, Chinese."""
    if value is None or value == "":
        return DEFAULT_LANG
    short = value.strip().lower().replace("_", "-").split("-")[0]
    if short == "zh":
        return "zh"
    if short == "en":
        return "en"
    raise UnknownLanguageError(value)


@lru_cache(maxsize=len(LANGS))
def catalogue(lang: Lang) -> dict[str, str]:
    data: dict[str, str] = json.loads((MESSAGES_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class Messages:
    """The catalogue of one language; `t("key", n=3)` fills `{n}` in the message."""

    lang: Lang

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.lang]

    @property
    def other(self) -> Lang:
        return "en" if self.lang == "zh" else "zh"

    def t(self, key: str, /, **values: Any) -> str:
        text = catalogue(self.lang)[key]  # KeyError: a key missing from the catalogue is a bug
        return text.format(**values) if values else text

    def pick(self, zh: str, en: str) -> str:
        """One of a pair of texts from the domain catalogues."""
        return zh if self.lang == "zh" else en

    def join(self, items: Iterable[str]) -> str:
        """A list inside a sentence: 因病、因灾 in Chinese, "illness, disaster" in English."""
        return ("、" if self.lang == "zh" else ", ").join(items)

    def date(self, day: date | None) -> str:
        """2026年1月1日 in Chinese, 2026-01-01 in English; "—" for none."""
        if day is None:
            return "—"
        return f"{day.year}年{day.month}月{day.day}日" if self.lang == "zh" else day.isoformat()

    def time(self, moment: datetime) -> str:
        """A moment in Beijing time (naive values are UTC, as the database stores them), with its zone named."""
        local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(LOCAL_TIME)
        return self.t("time.local", date=self.date(local.date()), clock=local.strftime("%H:%M"))
