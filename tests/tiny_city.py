"""A hand-built city of three households whose profiles as of 2024-01-01 are computed by hand in the tests.

H1 (poverty-alleviated, village V1): three living members, a death and a birth at the edges of `as_of`,
hospital stays inside and outside the windows, dibao and tekun active, a C-rated house, identified twice
(the second elimination is dated after `as_of`). H2 (general, V2): a minority head, a child out of school,
a job loss, a business failure and a dropout, identified only after `as_of`. H3: no records at all.
Records dated on or after `as_of` exist in every table; they must not be visible.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.reading.sources import Sources

AS_OF = pd.Timestamp("2024-01-01")
NA = None


def _frame(rows: list[dict[str, object]], dates: tuple[str, ...] = ()) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in dates:
        frame[column] = pd.to_datetime(frame[column])
    return frame


def tiny_sources() -> Sources:
    villages = _frame(
        [
            {"region_code": "990101001001", "township_code": "990101001", "county_code": "990101",
             "province_code": "99", "village_type": "former_poor", "relocation_settlement": False,
             "collective_income_yuan": 50_000.0, "main_industry": "apple", "distance_to_county_km": 12.5},
            {"region_code": "990101001002", "township_code": "990101001", "county_code": "990101",
             "province_code": "99", "village_type": "general", "relocation_settlement": False,
             "collective_income_yuan": 80_000.0, "main_industry": "mixed", "distance_to_county_km": 30.0},
        ]
    )  # fmt: skip
    households = _frame(
        [
            {"household_id": "H1", "region_code": "990101001001", "household_type": "poverty_alleviated",
             "registration_year": 2014, "exit_year": 2018, "relocated": False, "land_area_mu": 5.0,
             "orchard_area_mu": 2.0},
            {"household_id": "H2", "region_code": "990101001002", "household_type": "general",
             "registration_year": NA, "exit_year": NA, "relocated": False, "land_area_mu": 3.0,
             "orchard_area_mu": 0.0},
            {"household_id": "H3", "region_code": "990101001002", "household_type": "general",
             "registration_year": NA, "exit_year": NA, "relocated": NA, "land_area_mu": NA, "orchard_area_mu": NA},
        ]
    )  # fmt: skip
    members = _frame(
        [
            _member("M1", "H1", "male", "1960-06-15", "head", "han", "primary"),
            _member("M2", "H1", "female", "1962-01-01", "spouse", "han", "senior"),  # 62 exactly on as_of
            _member("M3", "H1", "female", "2010-01-02", "child", "han", NA),  # 14 the day after as_of
            _member("M4", "H1", "male", "1935-03-01", "parent", "han", NA),  # died 2023-05-01
            _member("M5", "H1", "male", "2024-01-01", "grandchild", "han", NA),  # born on as_of
            _member("M6", "H2", "female", "1980-07-01", "head", "hui", "junior"),
            _member("M7", "H2", "male", "2016-09-01", "child", "hui", NA),
        ],
        ("birth_date",),
    )
    status = _frame(
        [
            _status("M1", 2022, "2022-12-10", "healthy", NA, "ordinary", 10, NA, True, True, 0),
            _status("M1", 2023, "2023-12-10", "chronic|disabled", 2, "weak", 0, NA, True, True, 10),
            _status("M1", 2024, "2024-01-05", "serious", 1, "none", 0, NA, False, False, 0),  # after as_of
            _status("M2", 2023, "2023-12-10", NA, NA, NA, 8, "out_province", False, False, 0),
            _status("M3", 2023, "2023-12-10", "healthy", NA, "none", NA, NA, True, False, 0, "junior"),
            _status("M6", 2023, "2023-12-10", "healthy", NA, "skilled", 0, NA, True, True, 0),
            _status("M7", 2023, "2023-12-10", "healthy", NA, "none", NA, NA, True, False, 0),
        ],
        ("recorded_date",),
    )
    income = _frame(
        [
            _income("H1", 2021, 3, wage_migrant_yuan=27_000.0, production_cost_yuan=0.0),
            _income("H1", 2022, 3, wage_migrant_yuan=30_000.0, business_orchard_yuan=9_000.0,
                    production_cost_yuan=3_000.0),
            _income("H1", 2023, 3, wage_migrant_yuan=24_000.0, wage_local_yuan=0.0, business_orchard_yuan=10_000.0,
                    property_dividend_yuan=500.0, transfer_dibao_yuan=2_000.0, production_cost_yuan=4_000.0,
                    medical_oop_compliant_yuan=3_000.0, education_expense_yuan=1_200.0),
            _income("H1", 2024, 3, wage_migrant_yuan=1.0),  # recorded 2024-12-15: after as_of
            _income("H2", 2023, 2, wage_local_yuan=20_000.0),
        ],
        ("recorded_date",),
    )  # fmt: skip
    events = _frame(
        [
            _event("E1", "H1", "M1", "hospital_stay", "2023-11-15", total=30_000.0, oop=8_000.0, days=10),
            _event("E2", "H1", "M1", "hospital_stay", "2023-02-01", total=10_000.0, oop=2_500.0, days=5),
            _event("E3", "H1", "M1", "hospital_stay", "2022-12-31", total=9_000.0, oop=5_000.0, days=3),
            _event("E4", "H1", "M1", "hospital_stay", "2024-01-01", total=20_000.0, oop=9_999.0, days=4),
            _event("E5", "H1", "M4", "death", "2023-05-01"),
            _event("E6", "H1", NA, "disaster", "2023-07-01", loss=6_000.0, disaster_type="meteorological"),
            _event("E7", "H2", "M6", "job_loss", "2023-03-01"),
            _event("E8", "H2", NA, "business_failure", "2023-12-31", loss=4_000.0),
            _event("E9", "H2", "M7", "school_dropout", "2023-09-01"),
            _event("E10", "H1", NA, "insurance_payout", "2023-12-01", amount=1_500.0),
            _event("E11", "H2", "M6", "death", "2024-02-01"),  # after as_of: M6 still counts
        ],
        ("event_date",),
    )
    assistance = _frame(
        [
            _spell("S1", "H1", "dibao", "2022-03-01", NA, monthly=300.0),
            _spell("S2", "H1", "medical_assistance", "2023-11-20", "2023-11-20", lump=2_000.0),
            _spell("S3", "H1", "public_welfare_post", "2023-01-15", "2023-12-31", monthly=600.0, member="M1"),
            _spell("S4", "H2", "temporary_assistance", "2023-06-01", "2023-06-01", lump=1_000.0),
            _spell("S5", "H2", "disability_subsidy", "2024-01-01", NA, monthly=90.0),  # starts on as_of
            _spell("S6", "H1", "tekun", "2021-01-01", "2024-01-01", monthly=700.0),  # ends on as_of: active
            _spell("S7", "H2", "housing_renovation", "2020-05-01", "2020-08-01", lump=30_000.0),
        ],
        ("start_date", "end_date"),
    )
    housing = _frame(
        [
            {"household_id": "H1", "check_date": "2019-10-01", "housing_grade": "A", "housing_area_m2": 90.0},
            {"household_id": "H1", "check_date": "2023-10-01", "housing_grade": "C", "housing_area_m2": 90.0},
            {"household_id": "H1", "check_date": "2024-02-01", "housing_grade": "A", "housing_area_m2": 90.0},
            {"household_id": "H2", "check_date": "2022-09-01", "housing_grade": "B", "housing_area_m2": 120.0},
        ],
        ("check_date",),
    )
    water = _frame(
        [
            {"household_id": "H1", "check_date": "2023-05-01", "quantity_ok": True, "quality_ok": True,
             "convenience_ok": True, "reliability_ok": True},
            {"household_id": "H2", "check_date": "2023-05-01", "quantity_ok": True, "quality_ok": False,
             "convenience_ok": NA, "reliability_ok": True},
        ],
        ("check_date",),
    )  # fmt: skip
    identifications = _frame(
        [
            _identified("I1", "H1", "2021-03-01", "2022-02-01", "assisted"),
            _identified("I2", "H1", "2023-06-01", "2024-03-01", "natural"),  # eliminated after as_of
            _identified("I3", "H2", "2024-02-01", NA, NA),  # after as_of
        ],
        ("identified_date", "elimination_date"),
    )
    return Sources(
        {
            "villages": villages,
            "households": households,
            "members": members,
            "member_status": status,
            "income": income,
            "events": events,
            "assistance": assistance,
            "housing_checks": housing,
            "water_checks": water,
            "identifications": identifications,
        },
        {"synthetic": True},
    )


def _member(
    member_id: str, household: str, gender: str, birth: str, relation: str, ethnicity: str, education: object
) -> dict[str, object]:
    return {"member_id": member_id, "household_id": household, "gender": gender, "birth_date": birth,
            "relation_to_head": relation, "ethnicity": ethnicity, "education": education}  # fmt: skip


def _status(
    member_id: str,
    year: int,
    recorded: str,
    health: object,
    grade: object,
    skill: object,
    migrant: object,
    place: object,
    insured: bool,
    pension: bool,
    post_months: int,
    stage: str = "not_in_school",
) -> dict[str, object]:
    return {"member_id": member_id, "survey_year": year, "recorded_date": recorded, "schooling_stage": stage,
            "health": health, "disability_grade": grade, "labour_skill": skill, "migrant_work_months": migrant,
            "migrant_work_place": place, "basic_medical_insurance": insured, "pension_insurance": pension,
            "public_welfare_post_months": post_months}  # fmt: skip


def _income(household: str, year: int, members: int, **amounts: float) -> dict[str, object]:
    return {"household_id": household, "income_year": year, "recorded_date": f"{year}-12-15",
            "members_count": members, **amounts}  # fmt: skip


def _event(
    event_id: str,
    household: str,
    member: object,
    kind: str,
    when: str,
    *,
    total: float = np.nan,
    oop: float = np.nan,
    days: object = NA,
    loss: float = np.nan,
    amount: float = np.nan,
    disaster_type: object = NA,
) -> dict[str, object]:
    return {"event_id": event_id, "household_id": household, "member_id": member, "event_type": kind,
            "event_date": when, "total_cost_yuan": total, "oop_cost_yuan": oop, "hospital_days": days,
            "loss_yuan": loss, "amount_yuan": amount, "disaster_type": disaster_type}  # fmt: skip


def _spell(
    spell_id: str,
    household: str,
    measure: str,
    start: str,
    end: object,
    *,
    monthly: float = np.nan,
    lump: float = np.nan,
    member: object = NA,
) -> dict[str, object]:
    return {"spell_id": spell_id, "household_id": household, "member_id": member, "measure": measure,
            "start_date": start, "end_date": end, "monthly_amount_yuan": monthly, "lump_sum_yuan": lump}  # fmt: skip


def _identified(ident: str, household: str, when: str, eliminated: object, way: object) -> dict[str, object]:
    return {"identification_id": ident, "household_id": household, "identified_date": when,
            "monitoring_type": "unstable", "risk_type_1": "01", "discovery_channel": "grassroots",
            "elimination_date": eliminated, "elimination_way": way}  # fmt: skip
