"""Report building blocks against independent expectations: catalogues, probability words, PSI, charts, tokens."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from service.errors import AuthenticationError
from service.reports import auth, charts
from service.reports.drift import compare, current_shares, psi, reference_histogram, status
from service.reports.i18n import LANGS, MESSAGES_DIR, Messages, UnknownLanguageError, catalogue, parse_lang
from service.reports.pages import percent, probability_words, reason_items

pytestmark = pytest.mark.xdist_group("reports")
REPORTS = Path(__file__).parents[2] / "service" / "reports"
SOURCES = [*(REPORTS / "templates").glob("*.html"), *REPORTS.glob("*.py"), REPORTS.parent / "routers" / "reports.py"]


def test_both_catalogues_have_the_same_keys_and_placeholders() -> None:
    zh, en = catalogue("zh"), catalogue("en")
    assert set(zh) == set(en)
    for key in zh:
        assert set(re.findall(r"{(\w+)}", zh[key])) == set(re.findall(r"{(\w+)}", en[key])), key
    assert sorted(p.stem for p in MESSAGES_DIR.glob("*.json")) == sorted(LANGS)


def test_every_key_the_code_and_templates_use_exists() -> None:
    used = set()
    for path in SOURCES:
        used |= set(re.findall(r"""\bt\(\s*["'](\w+\.[\w.]+)["']""", path.read_text(encoding="utf-8")))
    assert used, "found no message keys"
    missing = {key for key in used if key not in catalogue("zh")}
    # keys built at run time: level.<level>, region.level.<level>, model.metric.<name>, model.drift.<status>
    assert missing == set()


def test_templates_hold_no_words_of_their_own() -> None:
    for path in (REPORTS / "templates").glob("*.html"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"{{.*?}}|{%.*?%}|{#.*?#}", " ", text, flags=re.S)
        text = re.sub(r"<style>.*?</style>|<[^>]*>", " ", text, flags=re.S)
        assert not re.search(r"[A-Za-z\u4e00-\u9fff]", text), f"{path.name}: {text.split()}"


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "zh"), ("", "zh"), ("zh-CN", "zh"), ("zh_cn", "zh"), ("EN", "en"), ("en-GB", "en")]
)
def test_parse_lang(value: str | None, expected: str) -> None:
    assert parse_lang(value) == expected


def test_parse_lang_refuses_others() -> None:
    with pytest.raises(UnknownLanguageError):
        parse_lang("fr")


@pytest.mark.parametrize(
    ("p", "zh", "en"),
    [
        (0.30, "约每 10 户有 3 户", "About 3 in 10"),
        (0.94, "约每 10 户有 9 户", "About 9 in 10"),
        (0.96, "约每 100 户有 96 户", "About 96 in 100"),  # never "10 in 10": that reads as certainty
        (0.9999, "约每 100 户有 99 户", "About 99 in 100"),
        (0.10, "约每 10 户有 1 户", "About 1 in 10"),
        (0.04, "约每 100 户有 4 户", "About 4 in 100"),
        (0.006, "约每 100 户有 1 户", "About 1 in 100"),
        (0.001, "不到百分之一", "Fewer than 1 in 100"),
    ],
)
def test_probability_in_words(p: float, zh: str, en: str) -> None:
    assert zh in probability_words(p, Messages("zh"))
    assert probability_words(p, Messages("en")).startswith(en)


@pytest.mark.parametrize(
    ("p", "shown"),
    [
        (0.0, "0.0"),
        (0.0004, "<0.1"),
        (0.0006, "0.1"),
        (0.123, "12.3"),
        (0.9994, "99.9"),
        (0.9995, ">99.9"),
        (0.99999, ">99.9"),
        (1.0, "100.0"),
    ],
)
def test_a_probability_short_of_certainty_never_reads_as_certain(p: float, shown: str) -> None:
    assert percent(p) == shown


def test_psi_by_hand() -> None:
    expected = 0.4 * math.log(0.9 / 0.5) + (-0.4) * math.log(0.1 / 0.5)
    assert psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(expected)
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    assert psi([0.5, 0.5], [1.0, 0.0]) > 1.0  # an emptied bin is a large shift, not infinity
    with pytest.raises(ValueError, match="same bins"):
        psi([1.0], [0.5, 0.5])


@pytest.mark.parametrize(("value", "expected"), [(0.0, "stable"), (0.099, "stable"), (0.1, "watch"), (0.25, "warning")])
def test_status_bands(value: float, expected: str) -> None:
    assert status(value, 0.10, 0.25) == expected


def test_numeric_histogram_uses_reference_deciles_and_counts_missing() -> None:
    reference = pd.Series([*range(100), None], dtype="float64")
    histogram = reference_histogram("x", reference, "numeric")
    assert len(histogram.edges) == 9 and len(histogram.shares) == 11
    assert histogram.shares[-1] == pytest.approx(1 / 101)
    assert sum(histogram.shares) == pytest.approx(1.0)
    same = current_shares(histogram, reference)
    assert psi(histogram.shares, same) == pytest.approx(0.0)
    shifted = current_shares(histogram, pd.Series(np.arange(100) + 50.0))
    assert shifted[:5] == [0.0] * 5 and sum(shifted) == pytest.approx(1.0)  # nothing below the reference median
    assert psi(histogram.shares, shifted) > 0.25


def test_category_histogram_puts_unseen_categories_with_missing() -> None:
    histogram = reference_histogram("c", pd.Series(["a", "a", "b", None]), "category")
    assert histogram.labels == ["a", "b"] and histogram.shares == [0.5, 0.25, 0.25]
    assert current_shares(histogram, pd.Series(["a", "z", "z", "b"])) == [0.25, 0.25, 0.5]


def test_compare_sorts_by_psi() -> None:
    reference = pd.DataFrame({"same": np.arange(200.0), "moved": np.arange(200.0)})
    current = pd.DataFrame({"same": np.arange(200.0), "moved": np.arange(200.0) * 3})
    report = compare(
        "7",
        [("same", "numeric"), ("moved", "numeric")],
        reference,
        current,
        reference_as_of="2024-01-01",
        current_as_of="2025-01-01",
        synthetic=True,
    )
    assert [f.feature for f in report.features] == ["moved", "same"]
    assert report.features[1].psi == pytest.approx(0.0)
    assert type(report).from_dict(__import__("json").loads(report.to_json())) == report


def test_bar_chart_lengths_are_proportional_and_it_has_a_text_alternative() -> None:
    svg = str(charts.bar_chart([charts.Bar("a", 10, "10"), charts.Bar("b", 5, "5")], "two <bars>"))
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]
    assert widths[0] == pytest.approx(2 * widths[1])
    assert 'role="img"' in svg and 'aria-label="two &lt;bars&gt;"' in svg and "<title>two &lt;bars&gt;</title>" in svg


def test_waterfall_ends_at_the_total() -> None:
    svg = str(charts.waterfall([charts.Step("rest", -2.0), charts.Step("illness", 12.5)], "total", "alt"))
    assert ">+12.5<" in svg and ">-2.0<" in svg and ">10.5<" in svg


def test_tokens_round_trip_and_refuse_tampering_expiry_and_other_paths() -> None:
    secret = b"s" * 32
    token = auth.sign(secret, auth.Token(7, 2_000_000_000, "/reports/model"))
    assert auth.verify(secret, token, path="/reports/model", now=1_000_000_000).key_id == 7
    with pytest.raises(AuthenticationError):
        auth.verify(secret, token, path="/reports/region/990101", now=1_000_000_000)
    with pytest.raises(AuthenticationError):
        auth.verify(secret, token, path="/reports/model", now=2_000_000_001)
    with pytest.raises(AuthenticationError):
        auth.verify(b"t" * 32, token, path="/reports/model", now=1_000_000_000)
    with pytest.raises(AuthenticationError):
        auth.verify(secret, "garbage", path=None)


def test_local_secret_is_created_once_and_private(tmp_path: Path) -> None:
    first = auth.load_secret("", tmp_path)
    assert auth.load_secret("", tmp_path) == first and len(first) == 64
    assert (tmp_path / "secrets" / "reports.key").stat().st_mode & 0o077 == 0
    assert auth.load_secret("configured", tmp_path) == b"configured"


@pytest.mark.parametrize(
    ("points", "zh", "en"),
    [
        (0.052, "使估计概率提高约 5.2 个百分点", "raises the estimated probability by about 5.2 percentage points"),
        (-0.013, "使估计概率降低约 1.3 个百分点", "lowers the estimated probability by about 1.3 percentage points"),
        (
            0.0004,
            "依据本户事实列出；模型未据此提高估计",
            "listed for the household's facts; the model gives it no weight",
        ),
        (
            -0.0004,
            "依据本户事实列出；模型未据此提高估计",
            "listed for the household's facts; the model gives it no weight",
        ),
    ],
)
def test_a_reason_says_in_words_what_the_model_makes_of_it(points: float, zh: str, en: str) -> None:
    """An evidence-backed risk type leads the reasons whatever its points; at 0.0 it reads as listed for the
    household's facts, below zero as lowering the estimate, never as "raises by 0.0" or "-1.3"."""
    reason = {"key": "illness", "points": points, "sentence_zh": "近3个月住院自付 4,000 元"}
    for m, words in ((Messages("zh"), zh), (Messages("en"), en)):
        (item,) = reason_items([reason], m)
        assert item["weight"] == words
    (plain,) = reason_items([{"key": "illness", "points": points}], Messages("en"))
    assert plain["own_words"] is False
    assert plain["sentence"].endswith("percentage points.") == (points >= 0.001), plain["sentence"]
