"""The fictional prefecture-level city: 13 counties, their townships and villages.

Region codes start with `99` (no real province has it) so that nothing here can be mistaken for a real
place: 99 (province) 01 (city) CC (county) TTT (township) VVV (village).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.simulation.config import CityConfig

_SYLLABLES = list("青禾川石柳河安宁丰乐泉山塬沟峁梁坪湾岭台源西东南北新平永康和兴旺清")
_COUNTY_SUFFIX = ["县"] * 11 + ["区", "市"]
# County climate exposure to the orchard hazards of the seed region (hail, frost, drought) — assumed.
_INDUSTRY_ORDER = ("apple", "livestock", "facility_agriculture", "minor_grain", "mixed")


@dataclass(frozen=True)
class Geography:
    villages: pd.DataFrame  # the `villages` source table
    county_of_village: np.ndarray  # county index 0..12 for each village
    county_hazard: np.ndarray  # (counties, 3): yearly probability of hail, frost, drought
    county_industry_mix: np.ndarray  # (counties, 5) shares of village main industries


def _names(rng: np.random.Generator, n: int, length: int, suffix: str) -> list[str]:
    # Enough syllables that unique names are easy to find (a big city has thousands of villages).
    length = max(length, math.ceil(math.log(3 * n) / math.log(len(_SYLLABLES))))
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        name = "".join(rng.choice(_SYLLABLES, size=length)) + suffix
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def build_geography(config: CityConfig, rng: np.random.Generator) -> Geography:
    n_villages = max(config.counties * 2, round(config.households / config.households_per_village))
    county_weights = rng.dirichlet(np.full(config.counties, 8.0))
    county_of_village = np.sort(rng.choice(config.counties, size=n_villages, p=county_weights))
    # Every county has at least one village.
    county_of_village[: config.counties] = np.arange(config.counties)
    county_of_village = np.sort(county_of_village)

    county_names = [
        name[:-1] + suffix
        for name, suffix in zip(_names(rng, config.counties, 2, "县"), _COUNTY_SUFFIX[: config.counties], strict=True)
    ]
    # Southern counties grow apples (hail and frost); northern ones livestock and minor grains (drought).
    apple_lean = np.linspace(0.65, 0.1, config.counties)
    mix = np.column_stack(
        [
            apple_lean,
            (1 - apple_lean) * 0.45,
            np.full(config.counties, 0.08),
            (1 - apple_lean) * 0.35,
            np.full(config.counties, 0.07),
        ]
    )
    mix = mix / mix.sum(axis=1, keepdims=True)
    hazard = np.column_stack([0.14 + 0.16 * apple_lean, 0.08 + 0.12 * apple_lean, 0.26 - 0.14 * apple_lean])

    rows = []
    township_seq = 0
    village_names = _names(rng, n_villages, 2, "村")
    township_names = _names(rng, n_villages // config.villages_per_township + config.counties + 1, 2, "镇")
    for county in range(config.counties):
        idx = np.flatnonzero(county_of_village == county)
        county_code = f"9901{county + 1:02d}"
        for pos, v in enumerate(idx):
            township = pos // config.villages_per_township
            village_no = pos % config.villages_per_township + 1
            if village_no == 1:
                township_seq += 1
            township_code = f"{county_code}{township + 1:03d}"
            rows.append(
                (
                    f"{township_code}{village_no:03d}",
                    village_names[v],
                    township_code,
                    township_names[township_seq - 1],
                    county_code,
                    county_names[county],
                )
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "region_code",
            "village_name",
            "township_code",
            "township_name",
            "county_code",
            "county_name",
        ],
    )
    frame["province_code"] = "99"
    village_type = rng.choice(["former_poor", "key_assisted", "general"], size=n_villages, p=[0.35, 0.05, 0.60])
    frame["village_type"] = village_type
    frame["relocation_settlement"] = rng.random(n_villages) < 0.04
    frame["collective_income_yuan"] = np.round(
        rng.lognormal(np.log(150_000), 0.9, n_villages) * np.where(village_type == "general", 1.3, 0.8), -2
    )
    industry_idx = np.array([rng.choice(5, p=mix[c]) for c in county_of_village])
    frame["main_industry"] = np.array(_INDUSTRY_ORDER)[industry_idx]
    frame["distance_to_county_km"] = np.round(rng.gamma(3.0, 9.0, n_villages) + 2, 1)
    return Geography(frame, county_of_village, hazard, mix)
