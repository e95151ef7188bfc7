"""Code lists shared by the source-data contract, the profile builder and the reasons.

Each code list maps a stable ASCII code to its (zh-CN, English) label. Source systems that deliver the
Chinese label instead of the code are normalised by the readers (see `features.reading.sources`).
"""

from __future__ import annotations

from typing import Final

Labels = dict[str, tuple[str, str]]

# docs/domain.md §4. The 02xx disaster sub-codes follow the order of the disaster kinds listed there; they are
# this project's coding (assumed), not a published national code table.
RISK_TYPES: Final[Labels] = {
    "01": ("因病", "illness"),
    "0201": ("因灾-洪涝", "disaster: flood"),
    "0202": ("因灾-地质灾害", "disaster: geological"),
    "0203": ("因灾-干旱", "disaster: drought"),
    "0204": ("因灾-生物灾害", "disaster: biological (pests, livestock disease)"),
    "0205": ("因灾-气象灾害", "disaster: meteorological (hail, frost)"),
    "0206": ("因灾-地震", "disaster: earthquake"),
    "0207": ("因灾-其他", "disaster: other"),
    "03": ("因残", "disability"),
    "04": ("缺劳动力", "lack of labour"),
    "05": ("因意外事故", "accident"),
    "06": ("因产业失败", "industry or business failure"),
    "07": ("因务工就业不稳", "unstable employment"),
    "09": ("因学", "education costs"),
    "99": ("其他", "other"),
}

DISASTER_TYPES: Final[Labels] = {
    "flood": ("洪涝", "flood"),
    "geological": ("地质灾害", "geological"),
    "drought": ("干旱", "drought"),
    "biological": ("生物灾害", "biological (pests, livestock disease)"),
    "meteorological": ("气象灾害", "meteorological (hail, frost)"),
    "earthquake": ("地震", "earthquake"),
    "other": ("其他", "other"),
}

# Disaster kind → its 02xx risk-type code.
DISASTER_RISK_TYPE: Final[dict[str, str]] = {kind: f"020{i}" for i, kind in enumerate(DISASTER_TYPES, start=1)}

HOUSEHOLD_TYPES: Final[Labels] = {
    "poverty_alleviated": ("脱贫户", "poverty-alleviated household"),
    "general": ("一般农户", "general rural household"),
}

VILLAGE_TYPES: Final[Labels] = {
    "former_poor": ("脱贫村", "former poor village"),
    "key_assisted": ("重点帮扶村", "key assisted village"),
    "general": ("一般村", "general village"),
}

INDUSTRIES: Final[Labels] = {
    "apple": ("苹果", "apple orchards"),
    "livestock": ("畜牧", "livestock"),
    "facility_agriculture": ("设施农业", "facility agriculture"),
    "minor_grain": ("小杂粮", "minor grains"),
    "mixed": ("综合", "mixed"),
}

GENDERS: Final[Labels] = {"male": ("男", "male"), "female": ("女", "female")}

RELATIONS: Final[Labels] = {
    "head": ("户主", "head of household"),
    "spouse": ("配偶", "spouse"),
    "child": ("子女", "child"),
    "child_in_law": ("儿媳/女婿", "child-in-law"),
    "grandchild": ("孙子女", "grandchild"),
    "parent": ("父母", "parent"),
    "grandparent": ("祖父母", "grandparent"),
    "sibling": ("兄弟姐妹", "sibling"),
    "other": ("其他", "other"),
}

ETHNICITIES: Final[Labels] = {
    "han": ("汉族", "Han"),
    "hui": ("回族", "Hui"),
    "mongol": ("蒙古族", "Mongol"),
    "manchu": ("满族", "Manchu"),
    "other_minority": ("其他少数民族", "other minority"),
}

EDUCATION_LEVELS: Final[Labels] = {
    "illiterate": ("文盲或半文盲", "illiterate or semi-literate"),
    "primary": ("小学", "primary school"),
    "junior": ("初中", "junior secondary"),
    "senior": ("高中", "senior secondary"),
    "vocational": ("中专/中职", "secondary vocational"),
    "college": ("大专", "junior college"),
    "bachelor_plus": ("本科及以上", "bachelor or above"),
}

SCHOOLING_STAGES: Final[Labels] = {
    "not_in_school": ("非在校生", "not in school"),
    "preschool": ("学前教育", "pre-school"),
    "primary": ("小学", "primary school"),
    "junior": ("初中", "junior secondary"),
    "senior": ("普通高中", "senior secondary"),
    "secondary_vocational": ("中职", "secondary vocational"),
    "higher_vocational": ("高职/大专", "higher vocational"),
    "undergraduate_plus": ("本科及以上", "undergraduate or above"),
}

# Health is a combination ("chronic|disabled"); "healthy" stands alone. docs/domain.md §6.
HEALTH_STATES: Final[Labels] = {
    "healthy": ("健康", "healthy"),
    "chronic": ("长期慢性病", "long-term chronic illness"),
    "serious": ("患有大病", "serious illness"),
    "disabled": ("残疾", "disability"),
}

LABOUR_SKILLS: Final[Labels] = {
    "skilled": ("技能劳动力", "skilled labour"),
    "ordinary": ("普通劳动力", "ordinary labour"),
    "weak": ("弱劳动力或半劳动力", "weak or half labour"),
    "lost": ("丧失劳动力", "lost labour capacity"),
    "none": ("无劳动力", "no labour capacity"),
}

MIGRANT_PLACES: Final[Labels] = {
    "in_county": ("县内", "within the county"),
    "in_province": ("省内县外", "within the province"),
    "out_province": ("省外", "outside the province"),
}

EVENT_TYPES: Final[Labels] = {
    "hospital_stay": ("住院", "hospital stay"),
    "disability_certificate": ("残疾证办理", "disability certificate"),
    "disaster": ("自然灾害损失", "natural disaster loss"),
    "accident": ("意外事故", "accident"),
    "death": ("死亡", "death"),
    "job_loss": ("失业/务工中断", "job loss"),
    "business_failure": ("产业经营失败", "business failure"),
    "school_dropout": ("辍学", "school dropout"),
    "insurance_payout": ("防贫保险赔付", "anti-poverty insurance payout"),
}

DEPARTMENTS: Final[Labels] = {
    "medical_security": ("医保局", "medical security bureau"),
    "civil_affairs": ("民政局", "civil affairs bureau"),
    "education": ("教育局", "education bureau"),
    "disabled_persons_federation": ("残联", "disabled persons' federation"),
    "human_resources": ("人社局", "human resources and social security bureau"),
    "housing": ("住建局", "housing and construction bureau"),
    "emergency": ("应急管理局", "emergency management bureau"),
    "agriculture": ("农业农村局", "agriculture and rural affairs bureau"),
    "insurer": ("保险机构", "insurer"),
}

MEASURES: Final[Labels] = {
    "dibao": ("最低生活保障", "minimum living allowance (dibao)"),
    "tekun": ("特困人员救助供养", "support for persons in extreme poverty (tekun)"),
    "temporary_assistance": ("临时救助", "temporary assistance"),
    "medical_assistance": ("医疗救助", "medical assistance"),
    "subsidised_insurance": ("资助参加基本医保", "subsidised basic medical insurance enrolment"),
    "critical_illness_insurance": ("大病保险", "critical-illness insurance"),
    "chronic_disease_service": ("慢病签约服务", "chronic-disease contract service"),
    "disability_subsidy": ("残疾人两项补贴", "two disability subsidies"),
    "rehabilitation": ("康复服务", "rehabilitation"),
    "public_welfare_post": ("公益岗位", "public-welfare post"),
    "employment_training": ("技能培训", "skills training"),
    "labour_export": ("劳务输出", "organised labour export"),
    "assistance_workshop": ("就业帮扶车间", "job in an employment assistance workshop"),
    "work_relief": ("以工代赈", "work relief (paid work on rural projects)"),
    "microcredit": ("小额信贷", "microcredit"),
    "industry_grant": ("产业奖补", "industry grant"),
    "technical_service": ("技术服务", "technical service"),
    "consumption_support": ("消费帮扶", "consumption support (buying the household's products)"),
    "agricultural_insurance": ("农业保险", "agricultural insurance"),
    "disaster_relief": ("灾害救助", "disaster relief"),
    "anti_poverty_insurance": ("防贫保险", "anti-poverty insurance"),
    "asset_dividend": ("资产收益分红", "asset-income dividend"),
    "land_transfer": ("土地流转", "land transfer"),
    "education_aid": ("教育资助", "education aid"),
    "yulu_plan": ("雨露计划", "Yulu plan (vocational-education grant)"),
    "dropout_control": ("控辍保学", "keeping children in school"),
    "housing_renovation": ("危房改造", "dilapidated-house renovation"),
    "water_project": ("饮水工程维修", "drinking-water project repair"),
    "relocation_follow_up": ("易地搬迁后续扶持", "follow-up support after relocation"),
}

HOUSING_GRADES: Final[Labels] = {
    "A": ("A级（安全）", "grade A (safe)"),
    "B": ("B级（基本安全）", "grade B (basically safe)"),
    "C": ("C级（局部危险）", "grade C (partly dangerous)"),
    "D": ("D级（整栋危险）", "grade D (dangerous)"),
}

MONITORING_TYPES: Final[Labels] = {
    "unstable": ("脱贫不稳定户", "unstable poverty-alleviated household"),
    "marginal": ("边缘易致贫户", "marginal household prone to poverty"),
    "sudden": ("突发严重困难户", "household in sudden severe difficulty"),
}

DISCOVERY_CHANNELS: Final[Labels] = {
    "self_report": ("农户自主申报", "household self-report"),
    "grassroots": ("基层干部排查", "grassroots check"),
    "department": ("部门筛查预警", "department screening"),
}

# Rural low-income population as civil affairs recognises it (docs/domain.md §10, §16): 低保 and 特困 are the
# basic-living safety net; 低保边缘 and 刚性支出困难 receive special assistance (medical, education, housing, …).
CIVIL_AFFAIRS_CATEGORIES: Final[Labels] = {
    "dibao": ("低保对象", "minimum-living-guarantee (dibao) recipient"),
    "tekun": ("特困人员", "person in extreme hardship (tekun)"),
    "dibao_edge": ("低保边缘家庭", "family on the edge of dibao"),
    "rigid_expenditure": ("刚性支出困难家庭", "family in hardship through rigid expenditure"),
}

ELIMINATION_WAYS: Final[Labels] = {
    "assisted": ("帮扶消除", "eliminated through assistance"),
    "natural": ("自然消除", "eliminated naturally"),
}
