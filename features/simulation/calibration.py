"""Measure a generated city against the calibration bands of docs/domain.md §9.

Used by the calibration test and by `relapse simulate --check`; also handy in the exploration notebook.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from features.reading.sources import Sources


@dataclass(frozen=True)
class Band:
    quantity: str
    low: float
    high: float
    basis: str


# docs/domain.md §9; identification rates are measured over the years after the first (the first year of the
# simulation is a burn-in in which the monitoring process finds the standing stock of households in need).
BANDS: tuple[Band, ...] = (
    Band("members_per_household", 2.6, 3.3, "census household sizes"),
    Band("share_with_member_60_plus", 0.35, 0.55, "ageing villages"),
    Band("share_poverty_alleviated", 0.15, 0.30, "assumed for a former poverty city"),
    Band("median_income_pc_poverty_alleviated", 11_000, 17_000, "national series 10,740 → 14,342"),
    Band("median_income_pc_general", 15_000, 22_000, "regional rural income ≈ 16,550 (2024)"),
    Band("new_identifications_poverty_alleviated", 0.02, 0.05, "≈ 14 % monitored, half renewed a year"),
    Band("new_identifications_general", 0.003, 0.015, "2.63 % of the agricultural population"),
    Band("cause_share_illness", 0.35, 0.50, "44.1 % poor through illness (2015)"),
    Band("cause_share_disability", 0.10, 0.20, "assumed"),
    Band("cause_share_lack_of_labour", 0.05, 0.15, "assumed"),
    Band("cause_share_disaster", 0.05, 0.15, "assumed"),
    Band("cause_share_accident", 0.03, 0.08, "assumed"),
    Band("cause_share_unstable_work", 0.05, 0.10, "assumed"),
    Band("cause_share_industry_failure", 0.03, 0.08, "assumed"),
    Band("cause_share_schooling", 0.02, 0.05, "assumed"),
    Band("eliminated_within_12_months", 0.40, 0.70, "49.7 % (Yunnan 2021), 65.3 % (national 2022)"),
    Band("missing_health", 0.15, 0.25, "public extract ≈ 21 %"),
    Band("missing_labour_skill", 0.45, 0.55, "public extract ≈ 53 %"),
    Band("missing_education", 0.50, 1.00, "public extract ≥ 50 %"),
)

_CAUSE_GROUPS = {
    "illness": ["01"],
    "disability": ["03"],
    "lack_of_labour": ["04"],
    "disaster": ["0201", "0202", "0203", "0204", "0205", "0206", "0207"],
    "accident": ["05"],
    "unstable_work": ["07"],
    "industry_failure": ["06"],
    "schooling": ["09"],
}


def measure(sources: Sources) -> dict[str, float]:
    """Each quantity of BANDS measured on a city (identification rates averaged over years 2..last)."""
    hh = sources["households"]
    members = sources["members"]
    status = sources["member_status"]
    income = sources["income"]
    ident = sources["identifications"]
    first, last = int(income["income_year"].min()), int(income["income_year"].max())
    out: dict[str, float] = {}

    last_status = status[status["survey_year"] == last].merge(
        members[["member_id", "household_id", "birth_date"]], on="member_id"
    )
    out["members_per_household"] = last_status.groupby("household_id").size().mean()
    age = (pd.Timestamp(f"{last}-12-31") - last_status["birth_date"]).dt.days / 365.25
    out["share_with_member_60_plus"] = last_status.loc[age >= 60, "household_id"].nunique() / len(hh)
    pa_ids = set(hh.loc[hh["household_type"] == "poverty_alleviated", "household_id"])
    out["share_poverty_alleviated"] = len(pa_ids) / len(hh)

    inc = income[income["income_year"] == last - 1]
    receipts = [
        c for c in inc.columns if c.endswith("_yuan") and not c.startswith(("production", "medical_oop", "education"))
    ]
    pc = (inc[receipts].sum(axis=1) - inc["production_cost_yuan"]) / inc["members_count"]
    is_pa = inc["household_id"].isin(pa_ids)
    out["median_income_pc_poverty_alleviated"] = float(pc[is_pa].median())
    out["median_income_pc_general"] = float(pc[~is_pa].median())

    years = ident["identified_date"].dt.year
    later = ident[(years > first) & (years <= last)]
    n_years = last - first
    out["new_identifications_poverty_alleviated"] = later["household_id"].isin(pa_ids).sum() / (len(pa_ids) * n_years)
    out["new_identifications_general"] = (~later["household_id"].isin(pa_ids)).sum() / (
        (len(hh) - len(pa_ids)) * n_years
    )
    for group, codes in _CAUSE_GROUPS.items():
        out[f"cause_share_{group}"] = float(later["risk_type_1"].isin(codes).mean())

    observed = ident[ident["identified_date"] < pd.Timestamp(f"{last}-01-01")]
    within = (observed["elimination_date"] - observed["identified_date"]).dt.days <= 365
    out["eliminated_within_12_months"] = float(within.fillna(False).mean())
    out["missing_health"] = float(status["health"].isna().mean())
    out["missing_labour_skill"] = float(status["labour_skill"].isna().mean())
    out["missing_education"] = float(members["education"].isna().mean())
    return out


def compare(measured: dict[str, float]) -> pd.DataFrame:
    """One row per band: the measured value and whether it is inside."""
    rows = [
        {
            "quantity": b.quantity,
            "measured": measured[b.quantity],
            "low": b.low,
            "high": b.high,
            "inside": b.low <= measured[b.quantity] <= b.high,
            "basis": b.basis,
        }
        for b in BANDS
    ]
    return pd.DataFrame(rows)
