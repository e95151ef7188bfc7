"""The source-data contract: the tables a deployment feeds us (docs/domain.md §6), defined once.

Everything else reads this module: the readers coerce types with it, `validate` checks rows against it,
`docs/data-contract.md` is rendered from it and the synthetic city writes exactly these columns.

Point-in-time: every table that changes over time names its `time_column`; a profile as of D only reads
rows whose time column is before D (docs/architecture.md, non-negotiable 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Final, Literal

from features.contract import codes

Kind = Literal["str", "int", "float", "bool", "date", "code", "codes"]

CODES_SEPARATOR: Final = "|"


@dataclass(frozen=True)
class Column:
    """One column: its type, meaning and the checks `validate` applies."""

    name: str
    kind: Kind
    zh: str
    en: str
    nullable: bool = True
    unit: str | None = None
    codes: codes.Labels | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    references: str | None = None  # "table.column" this column must match (orphan check)
    personal: bool = False  # never leaves ingestion in clear (replaced by a pseudonym)


@dataclass(frozen=True)
class Table:
    """One source table: key, time column and columns."""

    name: str
    zh: str
    en: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    time_column: str | None = None
    notes: tuple[str, ...] = field(default=())

    def column(self, name: str) -> Column:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.name} has no column {name!r}") from None

    # Cached: one household's road reads them for every column of every table it checks.
    @cached_property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @cached_property
    def _by_name(self) -> dict[str, Column]:
        return {c.name: c for c in reversed(self.columns)}  # reversed: the first of a repeated name wins


def _yuan(name: str, zh: str, en: str, *, nullable: bool = True) -> Column:
    return Column(name, "float", zh, en, nullable=nullable, unit="yuan", minimum=0)


REGION_CODE_PATTERN: Final = r"^\d{12}$"

VILLAGES = Table(
    "villages",
    "行政村",
    "villages",
    key=("region_code",),
    columns=(
        Column(
            "region_code",
            "str",
            "12位行政区划代码（村级）",
            "12-digit village region code",
            nullable=False,
            pattern=REGION_CODE_PATTERN,
        ),
        Column("village_name", "str", "村名", "village name"),
        Column("township_code", "str", "9位乡镇代码", "9-digit township code", nullable=False, pattern=r"^\d{9}$"),
        Column("township_name", "str", "乡镇名", "township name"),
        Column("county_code", "str", "6位县级代码", "6-digit county code", nullable=False, pattern=r"^\d{6}$"),
        Column("county_name", "str", "县（区、市）名", "county name"),
        Column("province_code", "str", "2位省级代码", "2-digit province code", nullable=False, pattern=r"^\d{2}$"),
        Column("village_type", "code", "村类型", "village type", codes=codes.VILLAGE_TYPES),
        Column("relocation_settlement", "bool", "是否易地扶贫搬迁安置区", "relocation settlement"),
        _yuan("collective_income_yuan", "村集体经济年收入", "village collective income per year"),
        Column("main_industry", "code", "主导产业", "main industry", codes=codes.INDUSTRIES),
        Column("distance_to_county_km", "float", "距县城距离", "distance to the county seat", unit="km", minimum=0),
    ),
    notes=("Village attributes are slow-moving reference data and are read as static (assumption).",),
)

HOUSEHOLDS = Table(
    "households",
    "农户",
    "households",
    key=("household_id",),
    columns=(
        Column("household_id", "str", "户编号", "household id", nullable=False),
        Column(
            "region_code",
            "str",
            "所在村区划代码",
            "village region code",
            nullable=False,
            pattern=REGION_CODE_PATTERN,
            references="villages.region_code",
        ),
        Column("household_type", "code", "农户类型", "household type", nullable=False, codes=codes.HOUSEHOLD_TYPES),
        Column("registration_year", "int", "建档立卡年份", "year registered as poor", minimum=2013, maximum=2020),
        Column("exit_year", "int", "脱贫年份", "year of exit from poverty", minimum=2014, maximum=2020),
        Column("relocated", "bool", "是否易地扶贫搬迁户", "relocated household"),
        Column("land_area_mu", "float", "耕地面积", "cultivated land", unit="mu", minimum=0),
        Column("orchard_area_mu", "float", "果园面积", "orchard area", unit="mu", minimum=0),
    ),
    notes=("`registration_year` and `exit_year` are set for poverty-alleviated households only.",),
)

MEMBERS = Table(
    "members",
    "家庭成员",
    "household members",
    key=("member_id",),
    columns=(
        Column("member_id", "str", "成员编号", "member id", nullable=False),
        Column("household_id", "str", "户编号", "household id", nullable=False, references="households.household_id"),
        Column(
            "id_number",
            "str",
            "身份证号（入库时假名化）",
            "national ID number (pseudonymised at ingestion)",
            personal=True,
            pattern=r"^\d{17}[\dX]$",
        ),
        Column("gender", "code", "性别", "gender", codes=codes.GENDERS),
        Column("birth_date", "date", "出生日期", "birth date", nullable=False),
        Column("relation_to_head", "code", "与户主关系", "relation to the head", codes=codes.RELATIONS),
        Column("ethnicity", "code", "民族", "ethnicity", codes=codes.ETHNICITIES),
        Column("education", "code", "文化程度", "education", codes=codes.EDUCATION_LEVELS),
    ),
    notes=(
        "Raw files may carry `id_number` and `name`; ingestion validates the ID checksum, replaces it by "
        "`person_pseudonym` and `pseudonym_key_version` (keyed HMAC-SHA256) and drops `name`.",
        "Attributes that change over time (health, labour, schooling, work) are in `member_status`.",
    ),
)

MEMBER_STATUS = Table(
    "member_status",
    "成员年度状况",
    "member status by year",
    key=("member_id", "survey_year"),
    time_column="recorded_date",
    columns=(
        Column("member_id", "str", "成员编号", "member id", nullable=False, references="members.member_id"),
        Column("survey_year", "int", "采集年度", "survey year", nullable=False, minimum=2013),
        Column("recorded_date", "date", "采集日期", "date recorded", nullable=False),
        Column("schooling_stage", "code", "在校生状况", "schooling stage", codes=codes.SCHOOLING_STAGES),
        Column("health", "codes", "健康状况（可多选）", "health (combinations allowed)", codes=codes.HEALTH_STATES),
        Column("disability_grade", "int", "残疾等级", "disability grade", minimum=1, maximum=4),
        Column("labour_skill", "code", "劳动技能", "labour skill", codes=codes.LABOUR_SKILLS),
        Column(
            "migrant_work_months", "int", "务工时间", "months of migrant work", unit="months", minimum=0, maximum=12
        ),
        Column("migrant_work_place", "code", "务工地点", "place of migrant work", codes=codes.MIGRANT_PLACES),
        Column(
            "basic_medical_insurance", "bool", "是否参加城乡居民基本医疗保险", "enrolled in basic medical insurance"
        ),
        Column("pension_insurance", "bool", "是否参加城乡居民基本养老保险", "enrolled in basic pension insurance"),
        Column(
            "public_welfare_post_months",
            "int",
            "公益岗位就业月数",
            "months in a public-welfare post",
            unit="months",
            minimum=0,
            maximum=12,
        ),
    ),
    notes=(
        "One row per member and survey year (the yearly information collection); a member who died or "
        "left has no rows after that year.",
    ),
)

INCOME = Table(
    "income",
    "家庭年度收支",
    "household income and expenditure by year",
    key=("household_id", "income_year"),
    time_column="recorded_date",
    columns=(
        Column("household_id", "str", "户编号", "household id", nullable=False, references="households.household_id"),
        Column("income_year", "int", "收入年度", "income year", nullable=False, minimum=2013),
        Column("recorded_date", "date", "核算日期", "date the year's income was recorded", nullable=False),
        Column(
            "members_count",
            "int",
            "计算人均收入的家庭人口",
            "household size used for per-capita income",
            nullable=False,
            minimum=1,
            maximum=30,
        ),
        _yuan("wage_migrant_yuan", "外出务工工资性收入", "wages from migrant work"),
        _yuan("wage_local_yuan", "本地务工工资性收入", "wages from local work"),
        _yuan("wage_public_welfare_yuan", "公益岗位工资", "wages from public-welfare posts"),
        _yuan("business_crop_yuan", "种植业经营收入", "crop business receipts"),
        _yuan("business_orchard_yuan", "果业经营收入", "orchard business receipts"),
        _yuan("business_livestock_yuan", "养殖业经营收入", "livestock business receipts"),
        _yuan("business_other_yuan", "其他经营收入", "other business receipts"),
        _yuan("property_dividend_yuan", "资产收益分红", "asset-income dividends"),
        _yuan("property_land_transfer_yuan", "土地流转收入", "land-transfer rent"),
        _yuan("transfer_dibao_yuan", "低保金", "dibao payments"),
        _yuan("transfer_tekun_yuan", "特困供养金", "tekun support payments"),
        _yuan("transfer_pension_yuan", "养老金", "pensions"),
        _yuan("transfer_eco_compensation_yuan", "生态补偿（含退耕还林）", "ecological compensation"),
        _yuan("transfer_insurance_payout_yuan", "防贫保险赔付", "anti-poverty insurance payouts"),
        _yuan("transfer_other_yuan", "其他转移性收入", "other transfers"),
        _yuan("production_cost_yuan", "生产经营性支出", "production costs"),
        _yuan("medical_oop_compliant_yuan", "合规医疗自付支出", "compliant out-of-pocket medical spending"),
        _yuan("education_expense_yuan", "教育支出", "education spending"),
    ),
    notes=(
        "Per-capita net income = (wages + business receipts + property + transfers − production costs) "
        "÷ members_count (docs/domain.md §3).",
    ),
)

EVENTS = Table(
    "events",
    "部门预警事件",
    "dated department events",
    key=("event_id",),
    time_column="event_date",
    columns=(
        Column("event_id", "str", "事件编号", "event id", nullable=False),
        Column("household_id", "str", "户编号", "household id", nullable=False, references="households.household_id"),
        Column("member_id", "str", "成员编号", "member id", references="members.member_id"),
        Column("event_type", "code", "事件类型", "event type", nullable=False, codes=codes.EVENT_TYPES),
        Column("event_date", "date", "发生日期", "event date", nullable=False),
        Column("source_department", "code", "推送部门", "department that pushed it", codes=codes.DEPARTMENTS),
        _yuan("total_cost_yuan", "医疗总费用", "total medical cost"),
        _yuan("oop_cost_yuan", "个人自付费用", "out-of-pocket cost"),
        Column("hospital_days", "int", "住院天数", "days in hospital", unit="days", minimum=0, maximum=366),
        _yuan("loss_yuan", "直接经济损失", "direct economic loss"),
        _yuan("amount_yuan", "赔付金额", "amount paid out"),
        Column("disaster_type", "code", "灾害类型", "disaster type", codes=codes.DISASTER_TYPES),
        Column("disability_grade", "int", "残疾等级", "disability grade", minimum=1, maximum=4),
    ),
    notes=(
        "Which amount columns are required depends on `event_type`; `validate` checks it (e.g. a "
        "hospital stay needs both costs and out-of-pocket ≤ total).",
    ),
)

ASSISTANCE = Table(
    "assistance",
    "帮扶与救助",
    "assistance spells",
    key=("spell_id",),
    time_column="start_date",
    columns=(
        Column("spell_id", "str", "记录编号", "spell id", nullable=False),
        Column("household_id", "str", "户编号", "household id", nullable=False, references="households.household_id"),
        Column("member_id", "str", "成员编号", "member id", references="members.member_id"),
        Column("measure", "code", "帮扶措施", "measure", nullable=False, codes=codes.MEASURES),
        Column("start_date", "date", "开始日期", "start date", nullable=False),
        Column("end_date", "date", "结束日期", "end date (empty while ongoing)"),
        _yuan("monthly_amount_yuan", "月发放金额", "monthly amount"),
        _yuan("lump_sum_yuan", "一次性金额", "one-off amount"),
    ),
    notes=("A spell is active on D when start_date < D and (end_date is empty or end_date ≥ D).",),
)

HOUSING_CHECKS = Table(
    "housing_checks",
    "住房安全鉴定",
    "housing safety checks",
    key=("household_id", "check_date"),
    time_column="check_date",
    columns=(
        Column("household_id", "str", "户编号", "household id", nullable=False, references="households.household_id"),
        Column("check_date", "date", "鉴定日期", "check date", nullable=False),
        Column(
            "housing_grade", "code", "房屋安全等级", "housing safety grade", nullable=False, codes=codes.HOUSING_GRADES
        ),
        Column("housing_area_m2", "float", "住房面积", "floor area", unit="m²", minimum=0),
    ),
)

WATER_CHECKS = Table(
    "water_checks",
    "饮水安全核查",
    "drinking-water checks",
    key=("household_id", "check_date"),
    time_column="check_date",
    columns=(
        Column("household_id", "str", "户编号", "household id", nullable=False, references="households.household_id"),
        Column("check_date", "date", "核查日期", "check date", nullable=False),
        Column("quantity_ok", "bool", "水量达标（每人每天≥20升）", "quantity ≥ 20 L per person per day"),
        Column("quality_ok", "bool", "水质达标（GB 5749）", "quality meets GB 5749"),
        Column("convenience_ok", "bool", "取水方便", "convenient access"),
        Column("reliability_ok", "bool", "供水有保障", "reliable supply"),
    ),
)

_RISK_TYPE_COLUMNS = tuple(
    Column(f"risk_type_{i}", "code", f"风险类型{i}", f"risk type {i}", nullable=i > 1, codes=codes.RISK_TYPES)
    for i in range(1, 6)
)

IDENTIFICATIONS = Table(
    "identifications",
    "监测对象识别",
    "monitoring identifications",
    key=("identification_id",),
    time_column="identified_date",
    columns=(
        Column("identification_id", "str", "识别编号", "identification id", nullable=False),
        Column("household_id", "str", "户编号", "household id", nullable=False, references="households.household_id"),
        Column("identified_date", "date", "识别日期", "date identified", nullable=False),
        Column(
            "monitoring_type", "code", "监测对象类型", "monitoring type", nullable=False, codes=codes.MONITORING_TYPES
        ),
        *_RISK_TYPE_COLUMNS,
        Column("discovery_channel", "code", "发现途径", "discovery channel", codes=codes.DISCOVERY_CHANNELS),
        Column("elimination_date", "date", "风险消除日期", "date the risk was eliminated"),
        Column("elimination_way", "code", "风险消除方式", "way the risk was eliminated", codes=codes.ELIMINATION_WAYS),
    ),
    notes=(
        "Outcome table: risk types, monitoring type and elimination are set at or after identification "
        "and are never features for a date before them (docs/domain.md §7).",
    ),
)

CIVIL_AFFAIRS = Table(
    "civil_affairs",
    "民政低收入人口认定",
    "civil-affairs categories",
    key=("household_id", "category", "start_date"),
    time_column="start_date",
    columns=(
        Column("household_id", "str", "户编号", "household id", nullable=False, references="households.household_id"),
        Column(
            "category",
            "code",
            "低收入人口类别",
            "civil-affairs category",
            nullable=False,
            codes=codes.CIVIL_AFFAIRS_CATEGORIES,
        ),
        Column("start_date", "date", "认定日期", "date recognised", nullable=False),
        Column("end_date", "date", "退出或复核到期日期", "end date (exit or next review; empty while ongoing)"),
    ),
    notes=(
        "A category is held on D when start_date < D and (end_date is empty or end_date ≥ D), as an assistance "
        "spell; the end date may be a planned review date in the future.",
        "Optional: a source without this table reads as no recognitions, i.e. not observed — never as "
        "evidence that a household is not on the safety net (docs/domain.md §16).",
    ),
)

TABLES: Final[dict[str, Table]] = {
    t.name: t
    for t in (
        VILLAGES,
        HOUSEHOLDS,
        MEMBERS,
        MEMBER_STATUS,
        INCOME,
        EVENTS,
        ASSISTANCE,
        HOUSING_CHECKS,
        WATER_CHECKS,
        IDENTIFICATIONS,
        CIVIL_AFFAIRS,
    )
}

# Tables whose rows belong to one household through `household_id` (member_status does through member_id).
HOUSEHOLD_TABLES: Final = tuple(name for name, t in TABLES.items() if "household_id" in t.column_names)

# Columns that replace a personal column at ingestion (see features.pseudonyms.keys).
PSEUDONYM_COLUMNS: Final = ("person_pseudonym", "pseudonym_key_version")
DROPPED_AT_INGESTION: Final = ("name",)


@cache
def withheld_columns(table: str) -> tuple[str, ...]:
    """The columns of `table` that ingestion drops (`DROPPED_AT_INGESTION`), or replaces by a pseudonym (its
    personal columns, `id_number`): no table after ingestion holds them, so nothing downstream may read them."""
    personal = (c.name for c in TABLES[table].columns if c.personal)
    return tuple(dict.fromkeys((*DROPPED_AT_INGESTION, *personal)))
