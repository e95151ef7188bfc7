"""The model card: a generated, human-readable account of one model version (logged as model_card.md).

One file holds the card in Chinese and in English, each section opened by a line `<!-- lang:zh -->` or
`<!-- lang:en -->`, so the officials' zh model report shows the Chinese card and the en report the English one
(`service/reports/pages.py` reads the sections; a card without these lines is English). Metric names are the
reports' own, one term per metric (docs/glossary.md).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from models.outcomes import purpose
from training.evaluate import Evaluation

CARD_FILE = "model_card.md"
LANGS = ("zh", "en")
SECTION = "<!-- lang:{lang} -->"

# Fairness attributes and groups as `training.pipeline.fairness_groups` names them, in words; counties stay codes.
ATTRIBUTE_NAMES: dict[str, tuple[str, str]] = {
    "head_gender": ("户主性别", "head's gender"),
    "minority": ("户主民族", "head's ethnicity"),
    "disability_in_household": ("家中有无残疾人", "disability in the household"),
    "household_type": ("农户类型", "household type"),
    "county": ("县级单位", "county-level unit"),
}
GROUP_NAMES: dict[str, tuple[str, str]] = {
    "male": ("男", "male"),
    "female": ("女", "female"),
    "minority": ("少数民族", "ethnic minority"),
    "han": ("汉族", "Han"),
    "yes": ("有", "yes"),
    "no": ("无", "no"),
    "former_poor": ("脱贫户", "former poor"),
    "ordinary": ("一般农户", "ordinary"),
    "unknown": ("未采集", "not recorded"),
}
FAIRNESS_HEADERS: dict[str, tuple[str, str]] = {
    "attribute": ("分组属性", "attribute"),
    "group": ("群体", "group"),
    "households": ("户数", "households"),
    "positives": ("纳入监测户数", "identified"),
    "tpr_at_5pct": ("前 5% 召回率", "recall at 5 %"),
    "observed_rate": ("实际纳入率", "observed rate"),
    "mean_predicted": ("平均估计概率", "mean estimated probability"),
    "calibration_gap": ("校准偏差", "calibration gap"),
}
BACKTEST_HEADERS: dict[str, tuple[str, str]] = {
    "test_year": ("测试年份", "test year"),
    "train_dates": ("训练参考日数", "training dates"),
    "households": ("户数", "households"),
    "base_rate": ("基础发生率", "base rate of the label"),
    "roc_auc": ("ROC-AUC", "ROC-AUC"),
    "pr_auc": ("PR-AUC", "PR-AUC"),
    "recall_at_5pct": ("前 5% 召回率", "recall at 5 %"),
    "ece": ("期望校准误差（ECE）", "expected calibration error"),
    "rules_pr_auc": ("现行规则 PR-AUC", "rules PR-AUC"),
    "rules_recall_at_5pct": ("现行规则前 5% 召回率", "rules recall at 5 %"),
}
COUNT_COLUMNS = ("households", "positives", "train_dates", "test_year")
# Words the two cards share; the Chinese ones are the reports' terms (docs/glossary.md).
WORDS: dict[str, tuple[str, str]] = {
    "roc_auc": ("ROC-AUC", "ROC-AUC"),
    "pr_auc": ("PR-AUC（查准-查全曲线下面积）", "PR-AUC"),
    "recall": ("前 {pct}% 召回率", "recall at {pct} % of households"),
    "precision": ("前 5% 查准率", "precision at 5 %"),
    "brier": ("Brier 分数", "Brier score"),
    "ece": ("期望校准误差（ECE）", "expected calibration error"),
    "base_rate": ("基础发生率", "base rate of the label"),
}


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table; floats with three decimals."""

    def cell(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _word(key: str, lang: str, **values: object) -> str:
    zh, en = WORDS[key]
    return (zh if lang == "zh" else en).format(**values)


def _fairness(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The fairness table with its attributes, groups and headers in the card's language."""
    pick = 0 if lang == "zh" else 1
    out = _counts(frame)
    for column, names in (("attribute", ATTRIBUTE_NAMES), ("group", GROUP_NAMES)):
        if column in out:
            out[column] = [names.get(str(v), (str(v), str(v)))[pick] for v in out[column]]
    return out.rename(columns={k: v[pick] for k, v in FAIRNESS_HEADERS.items()})


def _num(value: float, spec: str = ".3f", suffix: str = "") -> str:
    """A figure of the card; "—" where it was not computed (no official rules to compare with: NaN)."""
    return format(value, spec) + suffix if value == value else "—"


def _gap(attribute: str, gap: float, lang: str) -> str:
    """ "户主性别 0.194"; "—" where fewer than two groups had enough positives to compare (a NaN gap)."""
    name = ATTRIBUTE_NAMES.get(attribute, (attribute, attribute))[0 if lang == "zh" else 1]
    return f"{name} {_num(gap)}"


def _backtest(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    pick = 0 if lang == "zh" else 1
    return _counts(frame).rename(columns={k: v[pick] for k, v in BACKTEST_HEADERS.items()})


def _counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Count columns as whole numbers (a CSV round trip or a NaN makes them floats: "1703.000")."""
    out = frame.copy()
    for column in COUNT_COLUMNS:
        if column in out and pd.api.types.is_numeric_dtype(out[column]):
            out[column] = [str(int(v)) if pd.notna(v) and float(v).is_integer() else v for v in out[column]]
    return out


def render_model_card(
    *,
    evaluation: Evaluation,
    fingerprint: dict[str, Any],
    split: dict[str, str],
    params: dict[str, Any],
    backtest: pd.DataFrame,
    label: str,
    catalogue_version: str | None,
    own_data: str | None = None,
    random_split: bool = False,
    companion: dict[str, float] | None = None,
) -> str:
    """The card in Chinese, then in English, each section opened by its `SECTION` line.

    `own_data` is the registered name of a model trained on a user's own profile table (`relapse train
    --profiles`): its card then claims nothing about the monitoring programme or the official rules, which that
    data need not be about. `random_split`: the folds were drawn at random, so no dates are shown for them.
    `companion`: the test figures of the model's identification companion (`identification_test_*`), if any."""
    args: dict[str, Any] = {
        "evaluation": evaluation,
        "fingerprint": fingerprint,
        "split": split,
        "params": params,
        "backtest": backtest,
        "label": label,
        "catalogue_version": catalogue_version,
        "own_data": own_data,
        "random_split": random_split,
        "companion": companion,
    }
    return "\n".join(SECTION.format(lang=lang) + "\n" + _card(lang, **args) for lang in LANGS)


def _card(
    lang: str,
    *,
    evaluation: Evaluation,
    fingerprint: dict[str, Any],
    split: dict[str, str],
    params: dict[str, Any],
    backtest: pd.DataFrame,
    label: str,
    catalogue_version: str | None,
    own_data: str | None,
    random_split: bool,
    companion: dict[str, float] | None,
) -> str:
    m, ci = evaluation.metrics, evaluation.intervals
    nan = float("nan")
    recalls = tuple(f"recall_at_{p}pct" for p in (1, 5, 10))
    rules = evaluation.rules or dict.fromkeys(("roc_auc", "pr_auc", "precision_at_5pct", *recalls), nan)
    lift = evaluation.lift or dict.fromkeys(("pr_auc", *recalls), nan)
    synthetic = fingerprint.get("synthetic")
    zh = lang == "zh"
    text = _ZH if zh else _EN
    if own_data is not None:
        text = {**text, **(_ZH_OWN if zh else _EN_OWN)}
    split_line = text["random_split"] if random_split else text["split"]
    lines = [
        text["title"].format(name=own_data),
        "",
        text["synthetic"] if synthetic else "",
        "",
        text["use_title"],
        text["use"].format(purpose=purpose(label, lang), label=label),
        "",
        text["not_for"],
        "",
        text["data_title"],
        text["rows_only" if random_split else "label"].format(
            label=label, first=fingerprint["as_of_first"], last=fingerprint["as_of_last"], rows=fingerprint["rows"]
        ),
        split_line.format(**{k: v.replace(",", "、" if zh else ", ") for k, v in split.items()}),
        text["hash"].format(hash=fingerprint["content_sha256"][:16], version=catalogue_version),
        "",
        text["performance_title"],
        text["performance_head"],
        "|---|---|---|---|---|",
        f"| {_word('roc_auc', lang)} | {m['roc_auc']:.3f} | {ci['roc_auc'][0]:.3f} – {ci['roc_auc'][1]:.3f} | "
        f"{_num(rules['roc_auc'])} | |",
        f"| {_word('pr_auc', lang)} | {m['pr_auc']:.3f} | {ci['pr_auc'][0]:.3f} – {ci['pr_auc'][1]:.3f} | "
        f"{_num(rules['pr_auc'])} | {_num(lift['pr_auc'], '.2f', '×')} |",
    ]
    for pct in (1, 5, 10):
        extra = f"{ci['recall_at_5pct'][0]:.3f} – {ci['recall_at_5pct'][1]:.3f}" if pct == 5 else ""
        lines.append(
            f"| {_word('recall', lang, pct=pct)} | {m[f'recall_at_{pct}pct']:.3f} | {extra} | "
            f"{_num(rules[f'recall_at_{pct}pct'])} | {_num(lift[f'recall_at_{pct}pct'], '.2f', '×')} |"
        )
    lines += [
        f"| {_word('precision', lang)} | {m['precision_at_5pct']:.3f} | | {_num(rules['precision_at_5pct'])} | |",
        f"| {_word('brier', lang)} | {m['brier']:.4f} | | | |",
        f"| {_word('ece', lang)} | {m['ece']:.4f} | | | |",
        f"| {_word('base_rate', lang)} | {_pct(m['base_rate'])} | | | |",
        "",
        _companion_line(companion, text),
        "",
        text["backtest_title"],
        markdown_table(_backtest(backtest, lang)) if len(backtest) else text["not_run"],
        "",
        text["fairness_title"],
        text["fairness"],
        "",
        markdown_table(_fairness(evaluation.fairness, lang)),
        "",
        text["gaps"] + ("、" if zh else ", ").join(_gap(k, v, lang) for k, v in evaluation.fairness_gaps.items()),
        "",
        text["limits_title"],
        *text["limits"].split("\n"),
        "",
        text["params_title"],
        "```",
        *(f"{k}: {v}" for k, v in sorted(params.items()) if k != "monotone_constraints"),
        "```",
    ]
    return "\n".join(line for line in lines if line is not None) + "\n"


def _companion_line(figures: dict[str, float] | None, text: dict[str, str]) -> str:
    """The second output's test figures in one sentence; empty for a model without a companion."""
    if not figures:
        return ""
    get = {name.removeprefix("identification_test_"): value for name, value in figures.items()}
    return text["companion"].format(
        roc=get["roc_auc"], pr=get["pr_auc"], recall=get["recall_at_5pct"], ece=get["ece"], base=_pct(get["base_rate"])
    )


_EN: dict[str, str] = {
    "title": "# Model card: relapse-risk",
    "synthetic": "> **Synthetic data.** This model was trained on a fictional city generated by `relapse simulate`; "
    "its figures say nothing about any real place.",
    "use_title": "## Intended use",
    "use": "Ranks rural households by {purpose}, with reasons in the policy's risk types, so that grid workers and "
    "village officials visit the right households first. **A score supports the home visit and the village "
    "review; it never replaces them.** No household may be identified, refused or removed from monitoring "
    "because of a score alone (human review is required for every decision).",
    "not_for": "Not for: eligibility decisions, benefit amounts, ranking individuals, any use outside rural "
    "monitoring.",
    "data_title": "## Data",
    "label": "- Label: `{label}`; reference dates {first} … {last}; {rows:,} labelled household snapshots.",
    "rows_only": "- Label: `{label}`; {rows:,} labelled rows without reference dates.",
    "split": "- Split by time: train {train}; validation (early stopping, calibration) {valid}; test {test}.",
    "random_split": "- Split at random, stratified by label: 60 % train, 20 % validation (early stopping, "
    "calibration), 20 % test. No time order: the figures describe households like the training ones, not a later "
    "period.",
    "hash": "- Content hash `{hash}…`; feature catalogue version `{version}`.",
    "performance_title": "## Performance on the test period",
    "performance_head": "| metric | model | 95 % bootstrap interval | official rules | model ÷ rules |",
    "companion": "**Second output.** The version carries an identification companion — the same features, dates "
    "and split, trained on `identified_12m` (who the monitoring process identifies) — whose probability every "
    "answer gives beside this one. On the test period: ROC-AUC {roc:.3f}, PR-AUC {pr:.3f}, recall at 5 % "
    "{recall:.3f}, ECE {ece:.4f}, base rate {base}.",
    "backtest_title": "## Backtest (rolling origin)",
    "not_run": "(not run)",
    "fairness_title": "## Fairness",
    "fairness": "Recall among the top 5 % of households and calibration (mean estimated probability − observed "
    "rate) by group. Gaps are computed over groups with at least 10 identified households.",
    "gaps": "Gaps: ",
    "limits_title": "## Limitations",
    "limits": "- Predicts identification by today's monitoring process, including its blind spots: households the "
    "process misses are negatives here, so the model can inherit them.\n"
    "- Shocks of the coming year (illness, disasters, accidents) are largely unpredictable; the model finds "
    "households whose records show vulnerability, not the shock itself.\n"
    "- Probabilities are calibrated on one held-out period; re-check calibration when policy or lines change.\n"
    "- Missing member fields (health, labour skill, education) are common; the model uses missingness as "
    "information, which can differ between counties' data practices.",
    "params_title": "## Training parameters",
}

_ZH: dict[str, str] = {
    "title": "# 模型卡：relapse-risk 返贫风险模型",
    "synthetic": "> **合成数据。** 本模型用 `relapse simulate` 生成的虚构城市训练，其中数字不代表任何真实地方。",
    "use_title": "## 用途",
    "use": "按农户{purpose}排序，并按政策规定的风险类型说明原因，"
    "帮助网格员和村干部优先走访最需要的农户。**评分只用于支持入户核实和村级评议，不能代替它们。** "
    "任何农户都不能仅凭评分被纳入监测、被拒绝或被移出监测（每项决定都须经人工审核）。",
    "not_for": "不得用于：帮扶资格认定、救助金额确定、对个人排序，以及农村防返贫监测以外的任何用途。",
    "data_title": "## 数据",
    "label": "- 标签：`{label}`；参考日 {first} 至 {last}；共 {rows:,} 个带标签的农户快照。",
    "rows_only": "- 标签：`{label}`；共 {rows:,} 行带标签的数据，没有参考日。",
    "split": "- 按时间划分：训练 {train}；验证（提前停止、校准）{valid}；测试 {test}。",
    "random_split": "- 按标签分层随机划分：训练 60%，验证（提前停止、校准）20%，测试 20%。没有时间顺序："
    "这些数字描述的是与训练样本相似的农户，而不是未来时期。",
    "hash": "- 数据内容哈希 `{hash}…`；特征目录版本 `{version}`。",
    "performance_title": "## 测试期表现",
    "performance_head": "| 指标 | 模型 | 95% 自助法区间 | 现行规则 | 模型 ÷ 规则 |",
    "companion": "**第二输出。**本版本附带识别模型（特征、日期和划分相同，标签为 `identified_12m`，即新纳入监测），"
    "每个结果在本模型的概率旁给出其概率。测试期：ROC-AUC {roc:.3f}，PR-AUC {pr:.3f}，前 5% 召回率 {recall:.3f}，"
    "ECE {ece:.4f}，基础识别率 {base}。",
    "backtest_title": "## 回测（滚动起点）",
    "not_run": "（未运行）",
    "fairness_title": "## 公平性",
    "fairness": "按群体比较：估计概率最高的前 5% 农户中的召回率，以及校准偏差（平均估计概率 − 实际纳入率）。"
    "差距只在至少有 10 户纳入监测的群体之间计算。",
    "gaps": "差距：",
    "limits_title": "## 局限",
    "limits": "- 模型预测的是现行监测程序的识别结果，也继承其盲区：程序漏掉的农户在这里被当作未纳入，"
    "模型可能沿袭这种遗漏。\n"
    "- 来年的冲击（疾病、灾害、意外事故）大多无法预测；模型找出的是记录中显示脆弱性的农户，而不是冲击本身。\n"
    "- 概率在一个留出期上校准；政策或监测标准变化时须重新检查校准。\n"
    "- 成员字段（健康状况、劳动技能、文化程度）常有缺失；模型把缺失本身当作信息，而各县的数据采集习惯可能不同。",
    "params_title": "## 训练参数",
}

# A model of a user's own profile table: what the card can honestly say without knowing what the data is about.
_EN_OWN: dict[str, str] = {
    "title": "# Model card: {name}",
    "hash": "- Content hash `{hash}…`; features as the user's feature spec describes them.",
    "use": "Ranks the rows of a profile table its user brought (`relapse train --profiles`) by the calibrated "
    "probability of the label `{label}`. What the label means, and which decisions the ranking may support, is "
    "for the table's owner to state; a score supports a human review, it never replaces one.",
    "not_for": "Not for: scoring data from another source than the training table's without checking it first; "
    "any automated decision about a person or a household.",
    "limits": "- The figures describe the table it was trained on and nothing beyond it.\n"
    "- The label's blind spots (cases the source never recorded) are the model's too.\n"
    "- Probabilities are calibrated on the validation rows; re-check calibration when the data's source changes.",
}

_ZH_OWN: dict[str, str] = {
    "title": "# 模型卡：{name}",
    "hash": "- 数据内容哈希 `{hash}…`；特征按用户的特征说明文件（spec）读取。",
    "use": "按标签 `{label}` 的校准概率，对用户自带的画像表（`relapse train --profiles`）中的各行排序。"
    "标签的含义以及排序可以支持哪些决定，由数据所有者说明；评分只支持人工审核，不能代替它。",
    "not_for": "不得用于：未经检查就给与训练表来源不同的数据评分；对个人或农户的任何自动决定。",
    "limits": "- 这些数字只描述训练所用的这张表。\n"
    "- 标签的盲区（数据源从未记录的情况）也是模型的盲区。\n"
    "- 概率在验证行上校准；数据来源变化时须重新检查校准。",
}
