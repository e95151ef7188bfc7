"""Business of a year: planned receipts from land, orchards, herds and shops, cut by disasters and business
failure, and what is recorded. docs/simulation.md, step 6.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from features.simulation.context import YearContext
from features.simulation.state import DISASTER, INDUSTRY

_KINDS = ("orchard", "crop", "livestock", "other")


@dataclass
class Business:
    """Per household: planned receipts and the share of each left after this year's shocks."""

    has_labour: np.ndarray
    planned: dict[str, np.ndarray]  # by kind of business
    factors: dict[str, np.ndarray]  # by kind of business, starts at 1


@dataclass
class Disasters:
    """Per household: the disaster losses of the year and the kind that cost the most."""

    loss: np.ndarray
    kind: np.ndarray  # "" when none
    kind_loss: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.kind_loss = np.zeros(len(self.loss))

    def record(self, ctx: YearContext, kind: str, season: tuple[int, int], losses: np.ndarray) -> None:
        """Records one kind of disaster (losses above 200 yuan) dated within its season."""
        self.loss += losses
        hit = np.flatnonzero(losses > 200)
        if not len(hit):
            return
        dates = ctx.dates(len(hit), *season)
        ctx.events.add(
            "disaster",
            "emergency" if kind in ("flood", "geological") else "agriculture",
            hit,
            dates,
            disaster_type=kind,
            loss_yuan=losses[hit],
        )
        bigger = losses[hit] > self.kind_loss[hit]
        self.kind[hit[bigger]] = kind
        self.kind_loss[hit[bigger]] = losses[hit[bigger]]
        ctx.note_shock(hit, dates)


def plan_business(ctx: YearContext, labour_weight: np.ndarray, earning: np.ndarray) -> Business:
    """Receipts when things go well, scaled down when nobody can work."""
    pop, growth, n = ctx.pop, ctx.growth, ctx.n
    has_labour = labour_weight > 0
    scale = np.where(has_labour, 1.0, 0.25) * earning
    planned = {
        "orchard": pop.hh_orchard_mu * 5_000 * growth * scale,
        "crop": pop.hh_land_mu * 650 * growth**0.5 * scale,
        "livestock": pop.hh_livestock_scale * growth * scale,
        "other": pop.hh_other_business * growth * scale,
    }
    return Business(has_labour, planned, factors={k: np.ones(n) for k in _KINDS})


def disasters(ctx: YearContext, business: Business) -> Disasters:
    """County-year hail, frost and drought; rare floods and landslides; livestock disease."""
    tally = Disasters(loss=np.zeros(ctx.n), kind=np.full(ctx.n, "", dtype=object))
    _weather(ctx, business, tally)
    _floods_and_landslides(ctx, business, tally)
    _livestock_disease(ctx, business, tally)
    ctx.impact[:, DISASTER] += tally.loss
    return tally


def _weather(ctx: YearContext, business: Business, tally: Disasters) -> None:
    """Hail and late frost hit orchards, drought crops, orchards and herds, by county hazard (geography.py)."""
    pop, geo, rng, n = ctx.pop, ctx.geo, ctx.rng, ctx.n
    village_county = geo.county_of_village
    for kind, hazard_col, season, hits in (
        ("meteorological", 0, (120, 240), {"orchard": (0.3, 0.85)}),  # hail
        ("meteorological", 1, (90, 125), {"orchard": (0.2, 0.7)}),  # late frost
        ("drought", 2, (150, 240), {"crop": (0.3, 0.7), "orchard": (0.1, 0.4), "livestock": (0.0, 0.2)}),
    ):
        county_hit = rng.random(len(geo.county_hazard)) < geo.county_hazard[:, hazard_col]
        village_hit = county_hit[village_county] & (rng.random(len(village_county)) < 0.55)
        affected = village_hit[pop.hh_village] & (rng.random(n) < 0.75)
        losses = np.zeros(n)
        for target, (lo, hi) in hits.items():
            cut = np.where(affected, rng.uniform(lo, hi, n), 0.0)
            business.factors[target] *= 1 - cut
            losses += business.planned[target] * cut
        tally.record(ctx, kind, season, losses)


def _floods_and_landslides(ctx: YearContext, business: Business, tally: Disasters) -> None:
    """Rare and local; they damage houses (grade D)."""
    pop, state, geo, rng, n = ctx.pop, ctx.state, ctx.geo, ctx.rng, ctx.n
    village_county = geo.county_of_village
    for kind, p_county, season in (("flood", 0.05, (180, 260)), ("geological", 0.025, (170, 270))):
        county_hit = rng.random(len(geo.county_hazard)) < p_county
        village_hit = county_hit[village_county] & (rng.random(len(village_county)) < 0.12)
        affected = village_hit[pop.hh_village] & (rng.random(n) < 0.3)
        house = affected & (rng.random(n) < 0.25)
        state.hh_housing = np.where(house, 3, state.hh_housing)
        losses = np.where(affected, business.planned["crop"] * rng.uniform(0.2, 0.8, n), 0) + np.where(
            house, rng.uniform(10_000, 40_000, n) * ctx.growth, 0
        )
        tally.record(ctx, kind, season, losses)


def _livestock_disease(ctx: YearContext, business: Business, tally: Disasters) -> None:
    disease = (ctx.pop.hh_livestock_scale > 0) & (ctx.rng.random(ctx.n) < 0.04)
    cut = np.where(disease, ctx.rng.uniform(0.4, 0.9, ctx.n), 0)
    business.factors["livestock"] *= 1 - cut
    tally.record(ctx, "biological", (60, 330), business.planned["livestock"] * cut)


def business_failure(ctx: YearContext, business: Business) -> np.ndarray:
    """A collapsed market, a failed cooperative or a bad investment (assumed rates); returns the loss."""
    pop, rng, n = ctx.pop, ctx.rng, ctx.n
    planned = business.planned
    has_business = (pop.hh_other_business > 0) | (pop.hh_livestock_scale > 0)
    failure = business.has_labour & (
        rng.random(n) < np.where(has_business, 0.12, np.where(pop.hh_orchard_mu > 0, 0.012, 0))
    )
    fail_cut = np.where(failure, rng.uniform(0.5, 1.0, n), 0)
    fail_loss = (planned["other"] + 0.6 * planned["livestock"] + 0.5 * planned["orchard"]) * fail_cut
    business.factors["other"] *= 1 - fail_cut
    business.factors["livestock"] *= 1 - 0.6 * fail_cut
    business.factors["orchard"] *= 1 - 0.5 * fail_cut
    fi = np.flatnonzero(failure)
    fail_date = ctx.dates(len(fi))
    ctx.events.add("business_failure", "agriculture", fi, fail_date, loss_yuan=fail_loss[fi])
    ctx.note_shock(fi, fail_date)
    ctx.impact[:, INDUSTRY] += fail_loss
    return fail_loss


def business_income(ctx: YearContext, business: Business) -> dict[str, np.ndarray]:
    """Recorded receipts by kind and the production cost. Production costs are incurred before the shock,
    so a shock can make net business income negative."""
    planned, factors = business.planned, business.factors
    receipts = {
        "orchard": planned["orchard"] * factors["orchard"] * ctx.noise(0.2),
        "crop": planned["crop"] * factors["crop"] * ctx.noise(0.2),
        "livestock": planned["livestock"] * factors["livestock"] * ctx.noise(0.25),
        "other": planned["other"] * factors["other"] * ctx.noise(0.25),
    }
    receipts["production_cost"] = (
        0.42 * planned["orchard"] + 0.35 * planned["crop"] + 0.5 * planned["livestock"] + 0.45 * planned["other"]
    ) * ctx.noise(0.1)
    return receipts
