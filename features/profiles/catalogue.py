"""The feature catalogue: every profile feature declared once, as data (docs/contributing.md "features as data").

The profile builder must produce exactly these columns (a test checks it); `docs/features.md`, the
feature-spec file, the model's monotone constraints and the reason texts are all generated from here.

A feature's *group* maps to an official risk type of docs/domain.md §4 where one applies (illness → 01,
disaster → the 02xx family, …) or to a non-coded group (income, housing, water, insurance, …).
*Direction* is +1 when policy logic says a larger value never lowers the risk (more out-of-pocket medical
cost), −1 when it never raises it (more income), 0 when no such rule is clear.

Reason templates quote the household's own value with its unit; `format_reason` fills them in.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass
from typing import Final, Literal

from features.contract import codes
from features.profiles.status import STATUS_COLUMNS

Kind = Literal["number", "count", "flag", "category"]
Lang = Literal["zh", "en"]


@dataclass(frozen=True)
class Group:
    zh: str
    en: str
    risk_type: str | None  # docs/domain.md §4 code; "02" stands for the whole 02xx disaster family


GROUPS: Final[dict[str, Group]] = {
    "demographics": Group("人口结构", "household composition", None),
    "labour": Group("缺劳动力", "labour", "04"),
    "illness": Group("因病", "illness", "01"),
    "disability": Group("因残", "disability", "03"),
    "accident": Group("因意外事故", "accident", "05"),
    "disaster": Group("因灾", "natural disaster", "02"),
    "industry": Group("因产业失败", "industry and business", "06"),
    "employment": Group("因务工就业不稳", "employment", "07"),
    "education": Group("因学", "education", "09"),
    "income": Group("收入", "income", None),
    "housing": Group("住房安全", "housing safety", None),
    "water": Group("饮水安全", "drinking water", None),
    "insurance": Group("参保", "insurance", None),
    "assistance": Group("帮扶与救助", "assistance received", None),
    "monitoring": Group("建档与监测历史", "registration and monitoring history", None),
    "context": Group("村情县情", "village and county context", None),
}

# Time windows, relative to the reference date `as_of` (docs/architecture.md, non-negotiable 1).
AT_AS_OF = "members alive on as_of; their latest yearly status recorded in the 24 months before as_of"
LATEST_INCOME = "latest income year recorded before as_of (at most 5 years back)"
INCOME_3Y = "up to 3 latest income years recorded before as_of"
W3 = "[as_of − 3 months, as_of)"
W6 = "[as_of − 6 months, as_of)"
W12 = "[as_of − 12 months, as_of)"
ACTIVE = "spells started before as_of and not ended before it"
BEFORE = "all records dated before as_of"
LATEST_CHECK = "latest check before as_of"
STATIC = "reference data, read as static"


@dataclass(frozen=True)
class Feature:
    name: str
    group: str
    kind: Kind
    unit: str | None
    direction: int
    sources: tuple[str, ...]
    window: str
    zh: str
    en: str
    reason_zh: str
    reason_en: str
    missing: str = ""  # what a missing value means; empty when the feature is never missing
    categories: tuple[str, ...] = ()

    @property
    def risk_type(self) -> str | None:
        return GROUPS[self.group].risk_type


def _f(
    name: str,
    group: str,
    kind: Kind,
    unit: str | None,
    direction: int,
    sources: str,
    window: str,
    zh: str,
    en: str,
    reason: tuple[str, str],
    missing: str = "",
    categories: tuple[str, ...] = (),
) -> Feature:
    return Feature(
        name,
        group,
        kind,
        unit,
        direction,
        tuple(sources.split()),
        window,
        zh,
        en,
        *reason,
        missing,
        categories,
    )


_M = "members member_status events"
NO_STATUS = "no member has a yearly status before as_of"
NO_INCOME = "no income record before as_of"
NO_HOUSING = "no housing check before as_of"
NO_WATER = "no water check before as_of"
NO_MARGIN = "no income record before as_of"
# Margin above the line: per-capita net income of the latest income year − that year's monitoring line,
# at least 0.1 × the line (features.profiles._shocks).

# One entry per feature, kept in table layout: (name, group, kind, unit, direction, source tables, window,
# zh, en, (reason zh, reason en), what missing means, categories).
# fmt: off
FEATURES: Final[tuple[Feature, ...]] = (
    # --- household composition -------------------------------------------------------------------
    _f("members_count", "demographics", "count", "persons", 0, "members events", AT_AS_OF,
       "家庭人口（在世且已出生）", "members alive on as_of",
       ("家庭人口 {value:.0f} 人", "{value:.0f} household members")),
    _f("children_count", "demographics", "count", "persons", 0, "members events", AT_AS_OF,
       "16岁以下儿童数", "children under 16",
       ("16岁以下儿童 {value:.0f} 人", "{value:.0f} children under 16")),
    _f("elderly_count", "demographics", "count", "persons", 0, "members events", AT_AS_OF,
       "60岁及以上老人数", "members aged 60 or over",
       ("60岁以上老人 {value:.0f} 人", "{value:.0f} members aged 60+")),
    _f("dependency_ratio", "demographics", "number", "ratio", 1, "members events", AT_AS_OF,
       "抚养比（16岁以下与65岁以上人数 ÷ 16–64岁人数）", "dependants (<16, 65+) per member aged 16–64",
       ("抚养比 {value:.2f}", "dependency ratio {value:.2f}"), "nobody in the household is aged 16–64"),
    _f("head_age", "demographics", "number", "years", 0, "members", AT_AS_OF,
       "户主年龄", "age of the head", ("户主 {value:.0f} 岁", "head aged {value:.0f}"), "no living head"),
    _f("head_male", "demographics", "flag", None, 0, "members", AT_AS_OF,
       "户主为男性", "head is male", ("户主为男性", "male head"), "no living head or gender unrecorded"),
    _f("head_education_level", "demographics", "number", "level 0–6", 0, "members", AT_AS_OF,
       "户主文化程度（0文盲…6本科及以上）", "head's education (0 illiterate … 6 bachelor+)",
       ("户主文化程度：{value}", "head's education: {value}"),
       "no living head or unrecorded"),
    _f("max_adult_education_level", "demographics", "number", "level 0–6", 0, "members", AT_AS_OF,
       "成年人最高文化程度", "highest education among adults (16+)",
       ("成年人最高文化程度：{value}", "highest education among adults: {value}"),
       "no adult with a recorded education"),
    _f("minority_head", "demographics", "flag", None, 0, "members", AT_AS_OF,
       "户主为少数民族", "head belongs to an ethnic minority", ("户主为少数民族", "minority head"),
       "no living head or ethnicity unrecorded"),
    # --- labour (04) -----------------------------------------------------------------------------
    _f("working_age_count", "labour", "count", "persons", -1, "members events", AT_AS_OF,
       "16–64岁人数", "members aged 16–64", ("16–64岁成员 {value:.0f} 人", "{value:.0f} members aged 16–64")),
    _f("labour_capable_count", "labour", "count", "persons", -1, _M, AT_AS_OF,
       "16–64岁技能或普通劳动力人数", "skilled or ordinary labourers aged 16–64",
       ("有劳动能力成员 {value:.0f} 人", "{value:.0f} able-bodied labourers")),
    _f("weak_labour_count", "labour", "count", "persons", 0, _M, AT_AS_OF,
       "弱劳动力或半劳动力人数", "weak or half labourers",
       ("弱劳动力或半劳动力 {value:.0f} 人", "{value:.0f} weak or half labourers")),
    _f("no_labour_count", "labour", "count", "persons", 1, _M, AT_AS_OF,
       "16岁以上丧失劳动力或无劳动力人数", "members aged 16+ who lost or have no labour capacity",
       ("丧失或无劳动力成员 {value:.0f} 人", "{value:.0f} members without labour capacity")),
    _f("labour_units", "labour", "number", "labourer units", -1, _M, AT_AS_OF,
       "劳动力折算数（技能或普通劳动力计1，弱或半劳动力计0.5；未采集者按年龄、健康和在校情况估计）",
       "labour capacity in full-labourer units (able 1, weak or half ½; estimated from age, health and "
       "schooling where the skill is unrecorded)",
       ("劳动力折合 {value:.1f} 个", "labour capacity of {value:.1f} full labourers")),
    _f("labour_skill_missing_count", "labour", "count", "persons", 0, _M, AT_AS_OF,
       "劳动技能未采集人数", "members with no recorded labour skill",
       ("{value:.0f} 人劳动技能未采集", "labour skill unrecorded for {value:.0f} members")),
    _f("no_labour_household", "labour", "flag", None, 1, _M, AT_AS_OF,
       "整户无劳动力（无人有劳动技能记录且无16–64岁未采集者）",
       "no labour in the household (nobody able, weak or half labour; nobody 16–64 with skill unrecorded)",
       ("整户无劳动力", "no labour in the whole household")),
    _f("deaths_12m", "labour", "count", "persons", 1, "events", W12,
       "近12个月死亡成员数", "members who died in the last 12 months",
       ("近12个月家庭成员去世 {value:.0f} 人", "{value:.0f} members died in the last 12 months")),
    # --- illness (01) ----------------------------------------------------------------------------
    _f("chronic_count", "illness", "count", "persons", 1, _M, AT_AS_OF,
       "长期慢性病人数", "members with a long-term chronic illness",
       ("长期慢性病患者 {value:.0f} 人", "{value:.0f} members with chronic illness")),
    _f("serious_illness_count", "illness", "count", "persons", 1, _M, AT_AS_OF,
       "患有大病人数", "members with a serious illness",
       ("大病患者 {value:.0f} 人", "{value:.0f} members with serious illness")),
    _f("health_missing_count", "illness", "count", "persons", 0, _M, AT_AS_OF,
       "健康状况未采集人数", "members with no recorded health",
       ("{value:.0f} 人健康状况未采集", "health unrecorded for {value:.0f} members")),
    _f("hospital_stays_3m", "illness", "count", "stays", 1, "events", W3,
       "近3个月住院次数", "hospital stays in the last 3 months",
       ("近3个月住院 {value:.0f} 次", "{value:.0f} hospital stays in the last 3 months")),
    _f("hospital_stays_12m", "illness", "count", "stays", 1, "events", W12,
       "近12个月住院次数", "hospital stays in the last 12 months",
       ("近12个月住院 {value:.0f} 次", "{value:.0f} hospital stays in the last 12 months")),
    _f("hospital_days_12m", "illness", "number", "days", 1, "events", W12,
       "近12个月住院天数", "days in hospital in the last 12 months",
       ("近12个月住院 {value:.0f} 天", "{value:.0f} days in hospital in the last 12 months")),
    _f("hospital_oop_3m_yuan", "illness", "number", "yuan", 1, "events", W3,
       "近3个月住院自付费用", "out-of-pocket hospital cost in the last 3 months",
       ("近3个月住院自付 {value:,.0f} 元", "{value:,.0f} yuan out of pocket for hospital stays in 3 months")),
    _f("hospital_oop_12m_yuan", "illness", "number", "yuan", 1, "events", W12,
       "近12个月住院自付费用", "out-of-pocket hospital cost in the last 12 months",
       ("近12个月住院自付 {value:,.0f} 元",
        "{value:,.0f} yuan out of pocket for hospital stays in 12 months")),
    _f("hospital_total_cost_12m_yuan", "illness", "number", "yuan", 1, "events", W12,
       "近12个月住院总费用", "total hospital cost in the last 12 months",
       ("近12个月住院总费用 {value:,.0f} 元", "{value:,.0f} yuan total hospital cost in 12 months")),
    _f("max_stay_oop_12m_yuan", "illness", "number", "yuan", 1, "events", W12,
       "近12个月单次住院最高自付", "largest out-of-pocket cost of one stay in the last 12 months",
       ("单次住院自付最高 {value:,.0f} 元", "one hospital stay cost {value:,.0f} yuan out of pocket")),
    _f("medical_oop_last_year_yuan", "illness", "number", "yuan", 1, "income", LATEST_INCOME,
       "上年合规医疗自付支出", "compliant out-of-pocket medical spending of the last income year",
       ("上年合规医疗自付 {value:,.0f} 元", "{value:,.0f} yuan compliant medical spending last year"),
       NO_INCOME),
    _f("oop_to_income_12m", "illness", "number", "ratio", 1, "events income", W12,
       "近12个月住院自付 ÷ 上年家庭纯收入（分母至少1,000元）",
       "hospital out-of-pocket cost (12 months) ÷ last income year's household net income (≥ 1,000 yuan)",
       ("住院自付相当于家庭纯收入的 {value:.0%}",
        "hospital costs equal {value:.0%} of household net income"), NO_INCOME),
    _f("insurance_payout_12m_yuan", "illness", "number", "yuan", 0, "events", W12,
       "近12个月防贫保险赔付", "anti-poverty insurance payouts in the last 12 months",
       ("近12个月防贫保险赔付 {value:,.0f} 元",
        "{value:,.0f} yuan anti-poverty insurance payouts in 12 months")),
    # --- disability (03) -------------------------------------------------------------------------
    _f("disabled_count", "disability", "count", "persons", 1, _M, AT_AS_OF,
       "残疾人数", "members with a disability",
       ("残疾成员 {value:.0f} 人", "{value:.0f} members with a disability")),
    _f("severe_disability_count", "disability", "count", "persons", 1, _M, AT_AS_OF,
       "一、二级重度残疾人数", "members with a severe (grade 1–2) disability",
       ("一、二级残疾 {value:.0f} 人", "{value:.0f} members with a grade 1–2 disability")),
    _f("disability_certificates_12m", "disability", "count", "certificates", 1, "events", W12,
       "近12个月新办残疾证数", "disability certificates issued in the last 12 months",
       ("近12个月新办残疾证 {value:.0f} 个", "{value:.0f} new disability certificates in 12 months")),
    # --- accident (05) ---------------------------------------------------------------------------
    _f("accidents_12m", "accident", "count", "events", 1, "events", W12,
       "近12个月意外事故次数", "accidents in the last 12 months",
       ("近12个月发生意外事故 {value:.0f} 次", "{value:.0f} accidents in the last 12 months")),
    _f("accident_loss_12m_yuan", "accident", "number", "yuan", 1, "events", W12,
       "近12个月意外事故损失", "accident losses in the last 12 months",
       ("近12个月意外事故损失 {value:,.0f} 元", "{value:,.0f} yuan accident losses in 12 months")),
    _f("accident_medical_oop_12m_yuan", "accident", "number", "yuan", 1, "events", W12,
       "近12个月意外事故受伤成员的住院自付费用",
       "hospital out-of-pocket cost of members injured in an accident (12 months)",
       ("意外受伤成员住院自付 {value:,.0f} 元", "{value:,.0f} yuan hospital costs of members injured in accidents")),
    _f("accident_cost_to_margin_12m", "accident", "number", "ratio", 1, "events income", W12,
       "近12个月意外事故损失与受伤成员住院自付之和（人均）÷ 人均纯收入高于监测线的部分（至少为监测线的10%）",
       "accident losses and injured members' hospital costs (12 months) per member ÷ per-capita income above "
       "the monitoring line (at least 10 % of the line)",
       ("人均意外事故损失相当于收入高出监测线部分的 {value:.0%}",
        "accident costs per member equal {value:.0%} of the income margin above the line"), NO_MARGIN),
    # --- natural disaster (02xx) -----------------------------------------------------------------
    _f("disasters_12m", "disaster", "count", "events", 1, "events", W12,
       "近12个月受灾次数", "natural disaster losses recorded in the last 12 months",
       ("近12个月受灾 {value:.0f} 次", "hit by {value:.0f} natural disasters in 12 months")),
    _f("disaster_loss_12m_yuan", "disaster", "number", "yuan", 1, "events", W12,
       "近12个月灾害直接经济损失", "direct disaster losses in the last 12 months",
       ("近12个月灾害损失 {value:,.0f} 元", "{value:,.0f} yuan disaster losses in 12 months")),
    _f("disaster_loss_to_income_12m", "disaster", "number", "ratio", 1, "events income", W12,
       "近12个月灾害损失 ÷ 上年家庭纯收入（分母至少1,000元）",
       "disaster losses (12 months) ÷ household net income of the last income year (floored at 1,000 yuan)",
       ("灾害损失相当于家庭纯收入的 {value:.0%}",
        "disaster losses equal {value:.0%} of household net income"), NO_INCOME),
    _f("disaster_loss_6m_to_margin", "disaster", "number", "ratio", 1, "events income", W6,
       "近6个月灾害直接经济损失（人均）÷ 人均纯收入高于监测线的部分（至少为监测线的10%）",
       "direct disaster losses (6 months) per member ÷ per-capita income above the monitoring line "
       "(at least 10 % of the line)",
       ("近6个月人均灾害损失相当于收入高出监测线部分的 {value:.0%}",
        "disaster losses in 6 months per member equal {value:.0%} of the income margin above the line"),
       NO_MARGIN),
    # --- industry (06) ---------------------------------------------------------------------------
    _f("business_failures_12m", "industry", "count", "events", 1, "events", W12,
       "近12个月产业经营失败次数", "business failures in the last 12 months",
       ("近12个月产业经营失败 {value:.0f} 次", "{value:.0f} business failures in 12 months")),
    _f("business_failure_loss_12m_yuan", "industry", "number", "yuan", 1, "events", W12,
       "近12个月产业经营损失", "business-failure losses in the last 12 months",
       ("近12个月产业损失 {value:,.0f} 元", "{value:,.0f} yuan business losses in 12 months")),
    _f("business_loss_to_margin_12m", "industry", "number", "ratio", 1, "events income", W12,
       "近12个月产业经营损失（人均）÷ 人均纯收入高于监测线的部分（至少为监测线的10%）",
       "business-failure losses (12 months) per member ÷ per-capita income above the monitoring line "
       "(at least 10 % of the line)",
       ("人均产业损失相当于收入高出监测线部分的 {value:.0%}",
        "business losses per member equal {value:.0%} of the income margin above the line"), NO_MARGIN),
    _f("land_area_mu", "industry", "number", "mu", 0, "households", STATIC,
       "耕地面积", "cultivated land", ("耕地 {value:.1f} 亩", "{value:.1f} mu of cultivated land"),
       "unrecorded"),
    _f("orchard_area_mu", "industry", "number", "mu", 0, "households", STATIC,
       "果园面积", "orchard area", ("果园 {value:.1f} 亩", "{value:.1f} mu of orchards"), "unrecorded"),
    # --- employment (07) -------------------------------------------------------------------------
    _f("migrant_workers_count", "employment", "count", "persons", -1, _M, AT_AS_OF,
       "外出务工人数", "members in migrant work (latest year)",
       ("外出务工 {value:.0f} 人", "{value:.0f} migrant workers")),
    _f("migrant_work_months", "employment", "number", "months", -1, _M, AT_AS_OF,
       "家庭务工总月数", "months of migrant work, all members (latest year)",
       ("全家务工 {value:.0f} 个月", "{value:.0f} months of migrant work"), NO_STATUS),
    _f("out_province_workers_count", "employment", "count", "persons", 0, _M, AT_AS_OF,
       "省外务工人数", "migrant workers outside the province",
       ("省外务工 {value:.0f} 人", "{value:.0f} workers outside the province")),
    _f("public_welfare_post_months", "employment", "number", "months", -1, _M, AT_AS_OF,
       "公益岗位就业月数", "months in public-welfare posts, all members (latest year)",
       ("公益岗位就业 {value:.0f} 个月", "{value:.0f} months in public-welfare posts"), NO_STATUS),
    _f("job_losses_12m", "employment", "count", "events", 1, "events", W12,
       "近12个月失业或务工中断次数", "job losses in the last 12 months",
       ("近12个月失业或务工中断 {value:.0f} 次", "{value:.0f} job losses in 12 months")),
    _f("job_loss_income_share_12m", "employment", "number", "share", 1, "events members income", W12,
       "近12个月失业的外出务工者所挣收入占家庭总收入的比例（失业人数 ÷ 务工人数 × 务工收入占比，上限为务工收入占比）",
       "share of gross income earned by migrant workers who lost work in 12 months "
       "(job losses ÷ migrant workers, at most 1, × migrant wages ÷ gross income)",
       ("失业务工者的收入占家庭收入的 {value:.0%}",
        "workers who lost their jobs earned {value:.0%} of household income"),
       "no income record or gross income not positive"),
    # --- education (09) --------------------------------------------------------------------------
    _f("students_preschool_count", "education", "count", "persons", 0, _M, AT_AS_OF,
       "学前教育在读人数", "children in pre-school",
       ("学前儿童 {value:.0f} 人", "{value:.0f} in pre-school")),
    _f("students_compulsory_count", "education", "count", "persons", 0, _M, AT_AS_OF,
       "义务教育在读人数（小学、初中）", "students in compulsory education",
       ("义务教育阶段学生 {value:.0f} 人", "{value:.0f} students in compulsory education")),
    _f("students_senior_count", "education", "count", "persons", 1, _M, AT_AS_OF,
       "高中、中职在读人数", "students in senior secondary or vocational school",
       ("高中或中职学生 {value:.0f} 人", "{value:.0f} senior secondary or vocational students")),
    _f("students_higher_count", "education", "count", "persons", 1, _M, AT_AS_OF,
       "高职、大专及本科以上在读人数", "students in higher education",
       ("大学在读 {value:.0f} 人", "{value:.0f} students in higher education")),
    _f("children_out_of_school_count", "education", "count", "persons", 1, _M, AT_AS_OF,
       "6–15岁未在校儿童数（义务教育保障）", "children aged 6–15 not in school (compulsory education)",
       ("6–15岁儿童未在校 {value:.0f} 人", "{value:.0f} children aged 6–15 out of school")),
    _f("dropouts_12m", "education", "count", "events", 1, "events", W12,
       "近12个月辍学次数", "school dropouts in the last 12 months",
       ("近12个月辍学 {value:.0f} 人次", "{value:.0f} school dropouts in 12 months")),
    _f("education_expense_last_year_yuan", "education", "number", "yuan", 1, "income", LATEST_INCOME,
       "上年教育支出", "education spending of the last income year",
       ("上年教育支出 {value:,.0f} 元", "{value:,.0f} yuan education spending last year"), NO_INCOME),
    # --- income ----------------------------------------------------------------------------------
    _f("income_pc_yuan", "income", "number", "yuan", -1, "income", LATEST_INCOME,
       "上年人均纯收入", "per-capita net income of the last income year",
       ("上年人均纯收入 {value:,.0f} 元", "per-capita net income {value:,.0f} yuan"), NO_INCOME),
    _f("income_to_line", "income", "number", "ratio", -1, "income", LATEST_INCOME,
       "人均纯收入 ÷ 当年监测线", "per-capita net income ÷ that year's monitoring line",
       ("人均纯收入为监测线的 {value:.2f} 倍", "income is {value:.2f} × the monitoring line"), NO_INCOME),
    _f("income_pc_after_medical_yuan", "income", "number", "yuan", -1, "income", LATEST_INCOME,
       "扣除合规医疗自付后的人均纯收入", "per-capita net income after compliant medical spending",
       ("扣除医疗自付后人均收入 {value:,.0f} 元", "income after medical costs {value:,.0f} yuan per person"),
       NO_INCOME),
    _f("income_after_medical_to_line", "income", "number", "ratio", -1, "income", LATEST_INCOME,
       "扣除医疗自付后人均纯收入 ÷ 监测线", "income after medical spending ÷ the monitoring line",
       ("扣除医疗自付后收入为监测线的 {value:.2f} 倍",
        "income after medical costs is {value:.2f} × the line"), NO_INCOME),
    _f("income_pc_change_1y", "income", "number", "ratio", -1, "income", INCOME_3Y,
       "人均纯收入较前一年变化率", "change of per-capita net income on the year before",
       ("人均纯收入较前一年变化 {value:+.0%}", "per-capita income changed {value:+.0%} on the year before"),
       "no record for the year before, or its income was not positive"),
    _f("income_trend_3y", "income", "number", "ratio per year", -1, "income", INCOME_3Y,
       "近3年人均纯收入年均变化（相对均值）", "yearly slope of per-capita income over 3 years ÷ its mean",
       ("近3年人均收入年均变化 {value:+.0%}", "per-capita income trend {value:+.0%} a year"),
       "fewer than 2 income years, or a non-positive mean"),
    _f("income_volatility_3y", "income", "number", "ratio", 1, "income", INCOME_3Y,
       "近3年人均纯收入变异系数", "coefficient of variation of per-capita income over 3 years",
       ("近3年收入波动系数 {value:.2f}", "income volatility {value:.2f}"),
       "fewer than 2 income years, or a non-positive mean"),
    _f("income_record_age_years", "income", "number", "years", 0, "income", LATEST_INCOME,
       "最新收入年度距参考日的年数（上年为0）",
       "years between the latest income year and the year before as_of",
       ("收入数据已 {value:.0f} 年未更新", "income not updated for {value:.0f} years"), NO_INCOME),
    _f("income_recorded_days_ago", "income", "number", "days", 0, "income", LATEST_INCOME,
       "最新收入记录的采集日距参考日的天数", "days between the recording of the latest income year and as_of",
       ("收入记录已采集 {value:,.0f} 天", "income recorded {value:,.0f} days ago"), NO_INCOME),
    _f("wage_share", "income", "number", "share", 0, "income", LATEST_INCOME,
       "工资性收入占比", "wages ÷ gross income",
       ("工资性收入占 {value:.0%}", "wages are {value:.0%} of income"),
       "no income record or gross income not positive"),
    _f("business_share", "income", "number", "share", 0, "income", LATEST_INCOME,
       "生产经营性收入占比", "business receipts ÷ gross income",
       ("经营性收入占 {value:.0%}", "business is {value:.0%} of income"),
       "no income record or gross income not positive"),
    _f("property_share", "income", "number", "share", 0, "income", LATEST_INCOME,
       "财产性收入占比", "property income ÷ gross income",
       ("财产性收入占 {value:.0%}", "property is {value:.0%} of income"),
       "no income record or gross income not positive"),
    _f("transfer_share", "income", "number", "share", 0, "income", LATEST_INCOME,
       "转移性收入占比", "transfers ÷ gross income",
       ("转移性收入占 {value:.0%}", "transfers are {value:.0%} of income"),
       "no income record or gross income not positive"),
    _f("safety_net_share", "income", "number", "share", 1, "income", LATEST_INCOME,
       "低保、特困供养金占比（兜底依赖度）",
       "dibao and tekun payments ÷ gross income (safety-net dependence)",
       ("低保特困金占收入 {value:.0%}", "safety-net payments are {value:.0%} of income"),
       "no income record or gross income not positive"),
    _f("production_cost_ratio", "income", "number", "ratio", 0, "income", LATEST_INCOME,
       "生产经营性支出 ÷ 经营收入", "production costs ÷ business receipts",
       ("生产成本为经营收入的 {value:.0%}", "production costs are {value:.0%} of business receipts"),
       "no income record or no business receipts"),
    # --- housing, water, insurance ---------------------------------------------------------------
    _f("housing_grade_level", "housing", "number", "grade 1–4 (A–D)", 1, "housing_checks", LATEST_CHECK,
       "房屋安全等级（1=A … 4=D）", "housing safety grade (1 = A … 4 = D)",
       ("房屋安全等级为{value}级", "house rated {value}"), NO_HOUSING),
    _f("housing_unsafe", "housing", "flag", None, 1, "housing_checks", LATEST_CHECK,
       "住房为C/D级危房", "house rated C or D (dilapidated)",
       ("住房鉴定为C/D级危房", "house rated C/D (unsafe)"), NO_HOUSING),
    _f("housing_area_pc_m2", "housing", "number", "m²", 0, "housing_checks members", LATEST_CHECK,
       "人均住房面积", "floor area per member", ("人均住房 {value:.0f} 平方米", "{value:.0f} m² per person"),
       "no housing check, no area, or no members"),
    _f("water_problems_count", "water", "count", "criteria", 1, "water_checks", LATEST_CHECK,
       "饮水安全未达标项数（水量、水质、方便、保障）", "drinking-water criteria not met (of 4)",
       ("饮水安全 {value:.0f} 项未达标", "{value:.0f} drinking-water criteria not met")),
    _f("water_unsafe", "water", "flag", None, 1, "water_checks", LATEST_CHECK,
       "饮水不安全（任一项未达标）", "drinking water unsafe (any criterion not met)",
       ("饮水安全未达标", "drinking water not safe"), NO_WATER),
    _f("uninsured_count", "insurance", "count", "persons", 1, _M, AT_AS_OF,
       "未参加基本医疗保险人数", "members not enrolled in basic medical insurance",
       ("{value:.0f} 人未参加基本医疗保险", "{value:.0f} members without basic medical insurance")),
    _f("pension_uninsured_adults_count", "insurance", "count", "persons", 0, _M, AT_AS_OF,
       "16岁以上未参加养老保险人数", "members aged 16+ not enrolled in basic pension insurance",
       ("{value:.0f} 名成年人未参加养老保险", "{value:.0f} adults without pension insurance")),
    # --- assistance received ---------------------------------------------------------------------
    _f("dibao_active", "assistance", "flag", None, -1, "assistance civil_affairs", ACTIVE,
       "正在享受低保（救助记录或民政认定）",
       "receives dibao on as_of (an assistance spell or a civil-affairs category)",
       ("正在享受低保", "receives dibao")),
    _f("tekun_active", "assistance", "flag", None, -1, "assistance civil_affairs", ACTIVE,
       "正在享受特困供养（救助记录或民政认定）",
       "receives tekun support on as_of (an assistance spell or a civil-affairs category)",
       ("正在享受特困供养", "receives tekun support")),
    _f("dibao_edge_active", "assistance", "flag", None, 0, "civil_affairs", ACTIVE,
       "民政认定的低保边缘家庭", "recognised by civil affairs as a family on the edge of dibao on as_of",
       ("低保边缘家庭", "family on the edge of dibao"), "the source delivers no civil_affairs table (not observed)"),
    _f("rigid_expenditure_active", "assistance", "flag", None, 0, "civil_affairs", ACTIVE,
       "民政认定的刚性支出困难家庭", "recognised by civil affairs as a family in rigid-expenditure hardship on as_of",
       ("刚性支出困难家庭", "family in rigid-expenditure hardship"),
       "the source delivers no civil_affairs table (not observed)"),
    _f("disability_subsidy_active", "assistance", "flag", None, -1, "assistance", ACTIVE,
       "正在享受残疾人两项补贴", "receives the disability subsidies on as_of",
       ("正在享受残疾人两项补贴", "receives disability subsidies")),
    _f("public_welfare_post_active", "assistance", "flag", None, -1, "assistance", ACTIVE,
       "有成员在公益岗位", "a member holds a public-welfare post on as_of",
       ("有成员在公益岗位就业", "a member holds a public-welfare post")),
    _f("active_measures_count", "assistance", "count", "measures", -1, "assistance", ACTIVE,
       "正在实施的帮扶措施数", "assistance measures active on as_of",
       ("正在享受 {value:.0f} 项帮扶措施", "{value:.0f} measures active")),
    _f("active_monthly_amount_yuan", "assistance", "number", "yuan per month", -1, "assistance", ACTIVE,
       "正在发放的月度救助金额", "monthly payments active on as_of",
       ("每月领取救助 {value:,.0f} 元", "{value:,.0f} yuan a month in payments")),
    _f("assistance_spells_12m", "assistance", "count", "spells", -1, "assistance", W12,
       "近12个月新开始的帮扶措施数", "assistance spells started in the last 12 months",
       ("近12个月新增帮扶 {value:.0f} 项", "{value:.0f} measures started in 12 months")),
    _f("medical_assistance_12m_yuan", "assistance", "number", "yuan", 0, "assistance", W12,
       "近12个月医疗救助金额", "medical assistance paid in the last 12 months",
       ("近12个月获医疗救助 {value:,.0f} 元", "{value:,.0f} yuan medical assistance in 12 months")),
    _f("temporary_assistance_12m", "assistance", "count", "spells", -1, "assistance", W12,
       "近12个月临时救助次数", "temporary assistance in the last 12 months",
       ("近12个月获临时救助 {value:.0f} 次", "{value:.0f} temporary assistance payments in 12 months")),
    _f("dibao_ever", "assistance", "flag", None, -1, "assistance", BEFORE,
       "曾享受低保", "has ever received dibao", ("曾享受低保", "has received dibao before")),
    _f("housing_renovation_ever", "assistance", "flag", None, -1, "assistance", BEFORE,
       "曾获危房改造", "house renovated with a grant before", ("曾实施危房改造", "house renovated before")),
    # --- registration and monitoring history -----------------------------------------------------
    _f("poverty_alleviated", "monitoring", "flag", None, 1, "households", STATIC,
       "脱贫户（曾建档立卡）", "poverty-alleviated household (formerly registered poor)",
       ("脱贫户", "poverty-alleviated household")),
    _f("years_since_exit", "monitoring", "number", "years", 0, "households", STATIC,
       "脱贫年数", "years since exit from poverty",
       ("脱贫已 {value:.0f} 年", "out of poverty for {value:.0f} years"),
       "not a poverty-alleviated household or exit year unrecorded"),
    _f("relocated", "monitoring", "flag", None, 0, "households", STATIC,
       "易地扶贫搬迁户", "relocated household", ("易地扶贫搬迁户", "relocated household"), "unrecorded"),
    _f("previously_identified", "monitoring", "flag", None, 1, "identifications", BEFORE,
       "曾被识别为监测对象", "identified as a monitoring object before as_of",
       ("曾被识别为监测对象", "identified for monitoring before")),
    _f("identifications_count", "monitoring", "count", "identifications", 1, "identifications", BEFORE,
       "既往识别次数", "identifications before as_of",
       ("既往被识别 {value:.0f} 次", "identified {value:.0f} times before")),
    _f("under_monitoring", "monitoring", "flag", None, 0, "identifications", BEFORE,
       "参考日仍为监测对象（识别后风险未消除）",
       "under monitoring on as_of (identified, risk not yet eliminated)",
       ("目前仍为监测对象", "currently under monitoring")),
    _f("eliminated_assisted_count", "monitoring", "count", "identifications", 0, "identifications", BEFORE,
       "帮扶消除风险次数", "risks eliminated through assistance before as_of",
       ("曾 {value:.0f} 次经帮扶消除风险", "risk eliminated through assistance {value:.0f} times")),
    _f("eliminated_natural_count", "monitoring", "count", "identifications", 0, "identifications", BEFORE,
       "自然消除风险次数", "risks eliminated naturally before as_of",
       ("曾 {value:.0f} 次自然消除风险", "risk eliminated naturally {value:.0f} times")),
    _f("days_since_identification", "monitoring", "number", "days", 0, "identifications", BEFORE,
       "距最近一次识别的天数", "days since the latest identification",
       ("距上次识别 {value:,.0f} 天", "{value:,.0f} days since the last identification"), "never identified"),
    _f("days_since_elimination", "monitoring", "number", "days", 0, "identifications", BEFORE,
       "距最近一次风险消除的天数", "days since the latest risk elimination",
       ("距上次风险消除 {value:,.0f} 天", "{value:,.0f} days since the risk was last eliminated"),
       "no risk eliminated before as_of"),
    # --- village and county context --------------------------------------------------------------
    _f("village_type", "context", "category", None, 0, "villages", STATIC,
       "村类型", "village type", ("所在村为{value}", "lives in a {value}"), "unrecorded",
       tuple(codes.VILLAGE_TYPES)),
    _f("main_industry", "context", "category", None, 0, "villages", STATIC,
       "村主导产业", "village main industry", ("村主导产业为{value}", "village industry: {value}"),
       "unrecorded", tuple(codes.INDUSTRIES)),
    _f("relocation_settlement", "context", "flag", None, 0, "villages", STATIC,
       "位于易地扶贫搬迁安置区", "in a relocation settlement",
       ("居住在易地扶贫搬迁安置区", "lives in a relocation settlement"), "unrecorded"),
    _f("collective_income_yuan", "context", "number", "yuan", 0, "villages", STATIC,
       "村集体经济年收入", "village collective income per year",
       ("村集体经济年收入 {value:,.0f} 元", "village collective income {value:,.0f} yuan"), "unrecorded"),
    _f("distance_to_county_km", "context", "number", "km", 0, "villages", STATIC,
       "距县城距离", "distance to the county seat",
       ("距县城 {value:.0f} 公里", "{value:.0f} km from the county seat"), "unrecorded"),
    _f("county_former_poor_village_share", "context", "number", "share", 0, "villages", STATIC,
       "本县脱贫村、重点帮扶村占比", "share of former poor or key assisted villages in the county",
       ("本县脱贫村和重点帮扶村占 {value:.0%}",
        "{value:.0%} of the county's villages were poor or assisted"), "village not in the villages table"),
)
# fmt: on

# Columns of a profile table that identify the row or give context to rules and reports; not features.
META_COLUMNS: Final[dict[str, tuple[str, str]]] = {
    "household_id": ("户编号", "household id"),
    "as_of": (
        "参考日（画像只使用此日之前的记录）",
        "reference date (the profile uses only records before it)",
    ),
    "region_code": ("所在村区划代码", "village region code"),
    "county_code": ("县级代码", "county code"),
    "province_code": ("省级代码", "province code"),
    "income_year": ("收入特征所用的收入年度", "income year the income features refer to"),
    "monitoring_line_yuan": ("该收入年度的监测线", "monitoring line of that income year"),
    # The household's monitoring status as of as_of (features.profiles.status): who is already monitored.
    **STATUS_COLUMNS,
}

BY_NAME: Final[dict[str, Feature]] = {f.name: f for f in FEATURES}
FEATURE_NAMES: Final[tuple[str, ...]] = tuple(BY_NAME)

_CATEGORY_LABELS: Final[dict[str, codes.Labels]] = {
    "village_type": codes.VILLAGE_TYPES,
    "main_industry": codes.INDUSTRIES,
}


def catalogue_version() -> str:
    """A short hash of the catalogue's definitions: a model records it, the service refuses a model whose
    version differs from its own (the features would not mean the same thing)."""
    payload = json.dumps([asdict(f) for f in FEATURES], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def feature(name: str) -> Feature:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no feature {name!r} in the catalogue") from None


def monotone_constraints(names: tuple[str, ...] | list[str] | None = None) -> list[int]:
    """Directions in the order of `names` (all features by default), as LightGBM expects them."""
    return [feature(n).direction for n in (names or FEATURE_NAMES)]


# Levels printed as people read them: the level's position in its list (docs/domain.md §6, §5).
_LEVEL_LABELS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "head_education_level": tuple(codes.EDUCATION_LEVELS.values()),
    "max_adult_education_level": tuple(codes.EDUCATION_LEVELS.values()),
    "housing_grade_level": (("A", "A (safe)"), ("B", "B (safe)"), ("C", "C (dilapidated)"), ("D", "D (dilapidated)")),
}
_LEVEL_BASE: Final[dict[str, int]] = {"housing_grade_level": 1}

# What a flag's sentence says when the flag is 0 (its reason template says what 1 means).
_FLAG_FALSE: Final[dict[str, tuple[str, str]]] = {
    "head_male": ("户主为女性", "female head"),
    "minority_head": ("户主为汉族", "Han head"),
    "no_labour_household": ("家中有劳动力", "labour in the household"),
    "housing_unsafe": ("住房非C/D级危房", "house not rated C/D"),
    "water_unsafe": ("饮水安全达标", "drinking water safe"),
    "dibao_active": ("未享受低保", "no dibao"),
    "tekun_active": ("未享受特困供养", "no tekun support"),
    "dibao_edge_active": ("非低保边缘家庭", "not a family on the edge of dibao"),
    "rigid_expenditure_active": ("非刚性支出困难家庭", "not a family in rigid-expenditure hardship"),
    "disability_subsidy_active": ("未享受残疾人两项补贴", "no disability subsidies"),
    "public_welfare_post_active": ("无成员在公益岗位", "no member in a public-welfare post"),
    "dibao_ever": ("从未享受低保", "never received dibao"),
    "housing_renovation_ever": ("未实施过危房改造", "house never renovated with a grant"),
    "poverty_alleviated": ("一般农户（非脱贫户）", "general household (not poverty-alleviated)"),
    "relocated": ("非易地扶贫搬迁户", "not a relocated household"),
    "previously_identified": ("从未被识别为监测对象", "never identified for monitoring"),
    "under_monitoring": ("目前不是监测对象", "not under monitoring"),
    "relocation_settlement": ("不在易地扶贫搬迁安置区", "not in a relocation settlement"),
}
# What an income after medical costs says when it is below zero: that the costs exceed the income, rather than a
# negative multiple of the line.
_BELOW_ZERO: Final[dict[str, tuple[str, str]]] = {
    "income_after_medical_to_line": ("医疗自付超过家庭纯收入", "medical costs exceed the household's income"),
    "income_pc_after_medical_yuan": (
        "扣除医疗自付后人均收入为负（{value:,.0f} 元）",
        "income after medical costs below zero ({value:,.0f} yuan per person)",
    ),
}
# Features whose value is (or may be) printed in words, not by a number format (`format_reason`).
WORDED: Final[frozenset[str]] = frozenset(
    {*_LEVEL_LABELS, *_BELOW_ZERO, *(f.name for f in FEATURES if f.kind in ("flag", "category"))}
)


# A count of one in an English reason: "1 members", "1 days", "1 business failures" read as the singular. The
# count stands alone (no digit, comma or point before it), so "21 members" and "0.1 years" are left as they are.
_ONE: Final = re.compile(r"(?<![\d.,])\b1 (business )?([a-z]+?)s\b")


def format_reason(name: str, value: object, lang: Lang = "zh") -> str:
    """The feature's reason sentence with the household's own value filled in, as people read it: education
    and housing grades by name, flags as what they say (a 0 by its own sentence), categories by their label."""
    item = feature(name)
    template = item.reason_zh if lang == "zh" else item.reason_en
    pick = 0 if lang == "zh" else 1
    if item.kind == "category":
        labels = _CATEGORY_LABELS.get(name, {})
        label = labels.get(str(value), (str(value), str(value)))
        return template.format(value=label[pick])
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{item.zh}：缺失" if lang == "zh" else f"{item.en}: missing"
    number = float(value)  # type: ignore[arg-type]
    if item.kind == "flag" and number == 0 and name in _FLAG_FALSE:
        return _FLAG_FALSE[name][pick]
    if number < 0 and name in _BELOW_ZERO:
        return _BELOW_ZERO[name][pick].format(value=number)
    if name in _LEVEL_LABELS:
        levels = _LEVEL_LABELS[name]
        position = round(number) - _LEVEL_BASE.get(name, 0)
        word = levels[position][pick] if 0 <= position < len(levels) else f"{number:g}"
        return template.format(value=word)
    return grammatical(template.format(value=number), lang)


def grammatical(text: str, lang: Lang) -> str:
    """A filled-in reason sentence as people read it: in English, a count of one in the singular. Every road
    that fills a template in calls it (`format_reason`, the batch's `models.batch`)."""
    return _ONE.sub(r"1 \1\2", text) if lang == "en" else text
