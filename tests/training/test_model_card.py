"""The model card in two languages: a Chinese section an office can read, the English one, and how reports pick."""

from __future__ import annotations

import re

import pandas as pd

from service.reports.i18n import Messages
from service.reports.pages import model_card_for
from training.evaluate import Evaluation
from training.model_card import SECTION, render_model_card

METRICS = {
    "roc_auc": 0.81,
    "pr_auc": 0.12,
    "recall_at_1pct": 0.1,
    "recall_at_5pct": 0.3,
    "recall_at_10pct": 0.45,
    "precision_at_5pct": 0.09,
    "brier": 0.015,
    "ece": 0.004,
    "base_rate": 0.0168,
}
FAIRNESS = pd.DataFrame(
    {
        "attribute": ["head_gender", "head_gender", "minority", "minority", "county"],
        "group": ["female", "male", "minority", "han", "990101"],
        "households": [100.0, 300.0, 50.0, 350.0, 400.0],  # floats, as after a NaN or a CSV round trip
        "positives": [5.0, 9.0, 2.0, 12.0, 14.0],
        "tpr_at_5pct": [0.4, 0.3, 0.5, 0.33, 0.35],
        "observed_rate": [0.05, 0.03, 0.04, 0.034, 0.035],
        "mean_predicted": [0.045, 0.031, 0.05, 0.033, 0.034],
        "calibration_gap": [-0.005, 0.001, 0.01, -0.001, -0.001],
    }
)


BACKTEST = pd.DataFrame({"test_year": [2024.0], "train_dates": [9.0], "households": [11493.0], "pr_auc": [0.164]})


def card(backtest: pd.DataFrame | None = None, companion: dict[str, float] | None = None) -> str:
    evaluation = Evaluation(
        metrics=METRICS,
        intervals={"roc_auc": (0.78, 0.84), "pr_auc": (0.1, 0.14), "recall_at_5pct": (0.25, 0.35)},
        rules={},
        lift={},
        fairness=FAIRNESS,
        fairness_gaps={"head_gender": 0.1, "minority": float("nan")},
    )
    return render_model_card(
        evaluation=evaluation,
        fingerprint={
            "synthetic": True,
            "as_of_first": "2021-01-01",
            "as_of_last": "2025-01-01",
            "rows": 1234,
            "content_sha256": "ab" * 32,
        },
        split={"train": "2021-01-01,2023-01-01", "valid": "2024-01-01", "test": "2025-01-01"},
        params={"learning_rate": 0.05},
        backtest=pd.DataFrame() if backtest is None else backtest,
        label="identified_12m",
        catalogue_version="7",
        companion=companion,
    )


def test_a_need_models_card_gives_its_companions_figures_in_both_languages() -> None:
    figures = {"roc_auc": 0.8605, "pr_auc": 0.1594, "recall_at_5pct": 0.5218, "ece": 0.0016, "base_rate": 0.0169}
    text = card(companion={f"identification_test_{k}": v for k, v in figures.items()})
    zh, _ = model_card_for(text, Messages("zh"))
    en, _ = model_card_for(text, Messages("en"))
    assert zh is not None and en is not None
    assert "ROC-AUC 0.861，PR-AUC 0.159，前 5% 召回率 0.522，ECE 0.0016" in zh
    assert "ROC-AUC 0.861, PR-AUC 0.159, recall at 5 % 0.522, ECE 0.0016" in en
    assert "Second output" not in (model_card_for(card(), Messages("en"))[0] or "")  # no companion, no line


def test_the_card_has_a_chinese_and_an_english_section() -> None:
    text = card()
    assert text.startswith(SECTION.format(lang="zh")) and SECTION.format(lang="en") in text
    zh, zh_lang = model_card_for(text, Messages("zh"))
    en, en_lang = model_card_for(text, Messages("en"))
    assert (zh_lang, en_lang) == ("zh", "en")
    assert zh is not None and en is not None
    assert "模型卡" in zh and "Model card" not in zh and "human review" in en and "模型卡" not in en
    assert (
        "| 户主性别 | 女 | 100 | 5 |" in zh
    )  # counts as whole numbers and "| 户主民族 | 少数民族 |" in zh and "| 县级单位 | 990101 |" in zh
    assert "female" not in zh and "head_gender" not in zh  # no raw group codes in the Chinese card
    assert "| head's gender | female |" in en
    assert "前 5% 召回率" in zh and "0.300" in zh  # the reports' own term for recall at 5 %
    assert "差距：户主性别 0.100、户主民族 —" in zh and "nan" not in zh  # no rules, one gap not computed: —
    assert "| 前 5% 召回率 | 0.300 | 0.250 – 0.350 | — | — |" in zh


def test_the_backtest_table_is_headed_in_the_cards_language() -> None:
    zh, _ = model_card_for(card(BACKTEST), Messages("zh"))
    en, _ = model_card_for(card(BACKTEST), Messages("en"))
    assert zh is not None and en is not None
    assert "| 测试年份 | 训练参考日数 | 户数 | PR-AUC |" in zh and "| 2024 | 9 | 11493 | 0.164 |" in zh
    assert "| test year | training dates | households | PR-AUC |" in en


def test_the_chinese_card_uses_full_width_punctuation() -> None:
    zh, _ = model_card_for(card(), Messages("zh"))
    assert zh is not None
    prose = re.sub(r"`[^`]*`|```.*?```", "", zh, flags=re.S)  # code and parameters stay as they are
    assert not re.search(r"[\u4e00-\u9fff][,;:!?()]|[,;:!?(][\u4e00-\u9fff]", prose)


def test_an_older_english_only_card_is_shown_as_english() -> None:
    assert model_card_for("# Model card: relapse-risk\n", Messages("zh")) == ("# Model card: relapse-risk\n", "en")
    assert model_card_for(None, Messages("zh")) == (None, "zh")


def own_data_card(random_split: bool) -> str:
    evaluation = Evaluation(
        metrics=METRICS,
        intervals={"roc_auc": (0.78, 0.84), "pr_auc": (0.1, 0.14), "recall_at_5pct": (0.25, 0.35)},
        rules={},
        lift={},
        fairness=FAIRNESS.iloc[:0],
        fairness_gaps={},
    )
    return render_model_card(
        evaluation=evaluation,
        fingerprint={
            "synthetic": False,
            "as_of_first": "1900-01-01",
            "as_of_last": "1900-01-03",
            "rows": 600,
            "content_sha256": "cd" * 32,
        },
        split={"train": "1900-01-01", "valid": "1900-01-02", "test": "1900-01-03"},
        params={"learning_rate": 0.05},
        backtest=pd.DataFrame(),
        label="relapsed",
        catalogue_version=None,
        own_data="byod-survey",
        random_split=random_split,
    )


def test_a_card_of_ones_own_data_claims_neither_the_programme_nor_invented_dates() -> None:
    text = own_data_card(random_split=True)
    en, _ = model_card_for(text, Messages("en"))
    zh, _ = model_card_for(text, Messages("zh"))
    assert en is not None and zh is not None
    assert "# Model card: byod-survey" in en and "# 模型卡：byod-survey" in zh
    for words in ("monitoring", "identification by today", "grid workers", "Split by time", "version `None`"):
        assert words not in en, words
    assert "1900-01-0" not in en.split("## Performance")[0] and "1900-01-0" not in zh.split("## 测试期表现")[0]
    assert "Split at random, stratified by label" in en and "分层随机划分" in zh
    assert "`relapsed`" in en and "返贫" not in zh
    timed = own_data_card(random_split=False)
    assert "Split by time: train 1900-01-01" in timed  # with real dates the split is told as it was
