"""Typed factories for small, valid source tables (explicit seeds, every table non-empty)."""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import pandas as pd

from features.reading.sources import Sources

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def gb11643_check_character(first17: str) -> str:
    """Reference implementation of the GB 11643 check character, independent of `features.pseudonyms.keys`."""
    remainder = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS, strict=True)) % 11
    return "10X98765432"[remainder]


def make_id_number(county_code: str, birth: date, sequence: int) -> str:
    first17 = f"{county_code}{birth:%Y%m%d}{sequence:03d}"
    return first17 + gb11643_check_character(first17)


def make_sources(seed: int = 7, households: int = 6) -> Sources:
    """A small valid city: 2 villages, `households` households (脱贫户/一般农户 in turn), 2–4 members each."""
    rng = random.Random(seed)
    county, township = "610602", "610602100"
    villages = pd.DataFrame(
        {
            "region_code": [f"{township}201", f"{township}202"],
            "village_name": ["枣园村", "杨家岭村"],
            "township_code": [township, township],
            "township_name": ["枣园镇", "枣园镇"],
            "county_code": [county, county],
            "county_name": ["宝塔区", "宝塔区"],
            "province_code": ["61", "61"],
            "village_type": ["former_poor", "general"],
            "relocation_settlement": [False, True],
            "collective_income_yuan": [120_000.0, 85_500.5],
            "main_industry": ["apple", "livestock"],
            "distance_to_county_km": [12.5, 31.0],
        }
    )
    household_rows, member_rows, status_rows, income_rows = [], [], [], []
    sequence = 0
    for h in range(households):
        household_id = f"H{h + 1:06d}"
        alleviated = h % 2 == 0
        household_rows.append(
            {
                "household_id": household_id,
                "region_code": villages["region_code"][h % 2],
                "household_type": "poverty_alleviated" if alleviated else "general",
                "registration_year": 2014 + h % 3 if alleviated else None,
                "exit_year": 2018 + h % 3 if alleviated else None,
                "relocated": alleviated and h % 4 == 0,
                "land_area_mu": round(rng.uniform(2, 12), 1),
                "orchard_area_mu": round(rng.uniform(0, 6), 1) if h % 3 else None,
            }
        )
        size = 2 + h % 3
        for m in range(size):
            sequence += 1
            member_id = f"M{sequence:06d}"
            birth = date(1950 + rng.randrange(0, 15), 1 + rng.randrange(12), 1 + rng.randrange(28))
            if m >= 2:  # children
                birth = date(2008 + rng.randrange(0, 8), 1 + rng.randrange(12), 1 + rng.randrange(28))
            female = m == 1
            member_rows.append(
                {
                    "member_id": member_id,
                    "household_id": household_id,
                    # GB 11643: the sequence number is odd for men and even for women.
                    "id_number": make_id_number(county, birth, 2 * sequence + (0 if female else 1)),
                    "name": f"成员{sequence}",
                    "gender": "female" if female else "male",
                    "birth_date": pd.Timestamp(birth),
                    "relation_to_head": ["head", "spouse", "child", "child"][m],
                    "ethnicity": "han",
                    "education": [None, "primary", "junior", None][m],  # missing education is normal input
                }
            )
            for year in (2022, 2023):
                status_rows.append(
                    {
                        "member_id": member_id,
                        "survey_year": year,
                        "recorded_date": pd.Timestamp(year, 11, 15),
                        "schooling_stage": "junior" if m >= 2 else "not_in_school",
                        "health": ["chronic|disabled", "healthy", None, "healthy"][m],
                        "disability_grade": 3 if m == 0 else None,
                        "labour_skill": [None, "ordinary", None, None][m],
                        "migrant_work_months": [0, 6, None, None][m],
                        "migrant_work_place": [None, "in_province", None, None][m],
                        "basic_medical_insurance": True,
                        "pension_insurance": m < 2,
                        "public_welfare_post_months": 4 if m == 0 and alleviated else 0,
                    }
                )
        for year in (2022, 2023):
            income_rows.append(
                {
                    "household_id": household_id,
                    "income_year": year,
                    "recorded_date": pd.Timestamp(year + 1, 1, 20),
                    "members_count": size,
                    "wage_migrant_yuan": float(rng.randrange(5_000, 30_000)),
                    "business_orchard_yuan": float(rng.randrange(0, 20_000)),
                    "transfer_dibao_yuan": 3_600.0 if alleviated else None,
                    "production_cost_yuan": float(rng.randrange(1_000, 6_000)),
                    "medical_oop_compliant_yuan": 1_250.75,
                }
            )
    members = pd.DataFrame(member_rows)
    first, second = members.iloc[0], members.iloc[len(members) - 1]
    events = pd.DataFrame(
        [
            _event(
                "E1",
                first,
                "hospital_stay",
                "2023-03-02",
                "medical_security",
                total_cost_yuan=18_000.0,
                oop_cost_yuan=7_200.0,
                hospital_days=9,
            ),
            _event(
                "E2",
                first,
                "disability_certificate",
                "2022-06-10",
                "disabled_persons_federation",
                disability_grade=3,
            ),
            _event(
                "E3",
                second,
                "disaster",
                "2023-07-21",
                "emergency",
                loss_yuan=15_000.0,
                disaster_type="meteorological",
            ),
            _event("E4", second, "insurance_payout", "2023-09-01", "insurer", amount_yuan=5_000.0),
            _event("E5", second, "job_loss", "2023-10-15", "human_resources"),
        ]
    )
    assistance = pd.DataFrame(
        {
            "spell_id": ["A1", "A2"],
            "household_id": [first["household_id"], second["household_id"]],
            "member_id": [first["member_id"], None],
            "measure": ["medical_assistance", "dibao"],
            "start_date": pd.to_datetime(["2023-03-20", "2022-01-01"]),
            "end_date": pd.to_datetime(["2023-04-20", None]),
            "monthly_amount_yuan": [None, 300.0],
            "lump_sum_yuan": [4_000.0, None],
        }
    )
    household_ids = [row["household_id"] for row in household_rows]
    housing = pd.DataFrame(
        {
            "household_id": household_ids,
            "check_date": pd.Timestamp("2023-05-01"),
            "housing_grade": ["A", "B", "C", "A", "B", "A"][: len(household_ids)],
            "housing_area_m2": 80.0,
        }
    )
    water = pd.DataFrame(
        {
            "household_id": household_ids,
            "check_date": pd.Timestamp("2023-05-02"),
            "quantity_ok": True,
            "quality_ok": [True, False] * (len(household_ids) // 2),
            "convenience_ok": True,
            "reliability_ok": None,
        }
    )
    identifications = pd.DataFrame(
        {
            "identification_id": ["I1", "I2"],
            "household_id": [first["household_id"], second["household_id"]],
            "identified_date": pd.to_datetime(["2023-04-01", "2023-08-15"]),
            "monitoring_type": ["unstable", "sudden"],
            "risk_type_1": ["01", "0205"],
            "risk_type_2": ["03", None],
            "discovery_channel": ["department", "grassroots"],
            "elimination_date": pd.to_datetime(["2024-03-01", None]),
            "elimination_way": ["assisted", None],
        }
    )
    civil_affairs = pd.DataFrame(
        {
            "household_id": [first["household_id"], second["household_id"]],
            "category": ["rigid_expenditure", "dibao"],
            "start_date": pd.to_datetime(["2023-06-01", "2022-01-01"]),
            "end_date": pd.to_datetime(["2024-05-31", None]),
        }
    )
    tables = {
        "villages": villages,
        "households": pd.DataFrame(household_rows),
        "members": members,
        "member_status": pd.DataFrame(status_rows),
        "income": pd.DataFrame(income_rows),
        "events": events,
        "assistance": assistance,
        "housing_checks": housing,
        "water_checks": water,
        "identifications": identifications,
        "civil_affairs": civil_affairs,
    }
    return Sources(tables, {"synthetic": True, "seed": seed})


def _event(event_id: str, member: pd.Series, event_type: str, when: str, department: str, **details: object) -> dict:
    return {
        "event_id": event_id,
        "household_id": member["household_id"],
        "member_id": member["member_id"],
        "event_type": event_type,
        "event_date": pd.Timestamp(when),
        "source_department": department,
        **details,
    }


def scale_sources(sources: Sources, copies: int, years: int = 2) -> Sources:
    """The city repeated `copies` times with fresh ids, yearly tables spread over `years` years.

    A cheap, vectorised stand-in for a province-sized folder (benchmarks); ID numbers are dropped
    because copies would repeat them.
    """
    from features.reading.sources import coerce_sources

    typed = coerce_sources(sources)
    id_columns = {"household_id", "member_id", "event_id", "spell_id", "identification_id"}
    yearly = {"member_status": "survey_year", "income": "income_year"}
    tables = {}
    for name, frame in typed.tables.items():
        if name == "villages":
            tables[name] = frame
            continue
        if name in yearly:  # keep one year per member/household, then spread it over `years` years
            frame = frame[frame[yearly[name]] == frame[yearly[name]].min()].reset_index(drop=True)
        n = len(frame)
        big = frame.iloc[np.tile(np.arange(n), copies)].reset_index(drop=True)
        suffix = pd.Series(np.repeat(np.arange(copies), n)).astype("string")
        for column in id_columns & set(big.columns):
            big[column] = big[column] + "-" + suffix
        if name in yearly:
            offsets = np.repeat(np.arange(years), len(big))
            big = big.iloc[np.tile(np.arange(len(big)), years)].reset_index(drop=True)
            big[yearly[name]] = big[yearly[name]] - offsets
            big["recorded_date"] = big["recorded_date"] - pd.to_timedelta(offsets * 365, unit="D")
        tables[name] = big
    tables["members"]["id_number"] = pd.NA
    return Sources(tables, dict(sources.manifest))
