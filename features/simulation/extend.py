"""A city a year later: the same city generated again with one more year, from the manifest of its folder.

The generator draws every year from one random stream in a fixed order, and the extract date decides only what
the tables show, never what happens (features/simulation/monitoring.py `identify`). So the same seed and size run
one year longer repeat the earlier years draw for draw, and the longer city's records dated before the first
extract date are the first city's records: what a deployment's extract holds a year later, with the year's new
records and with what the year settled about older ones (eliminations, spells that ended) filled in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from features.reading.sources import read_manifest
from features.simulation.city import GENERATOR, Progress, simulate_city
from features.simulation.config import CityConfig


class ExtendError(ValueError):
    """The folder is not a city this generator wrote, or the output would overwrite it."""


def extension_config(manifest: dict[str, Any], years: int = 1) -> tuple[CityConfig, int]:
    """The config and seed of the city of `manifest` run `years` years longer."""
    if manifest.get("generator") != GENERATOR:
        raise ExtendError(
            f"the folder's dataset.json does not name {GENERATOR!r} as its generator: only a "
            "generated city can be extended"
        )
    missing = [k for k in ("seed", "households", "first_year", "last_year") if k not in manifest]
    if missing:
        raise ExtendError(f"the folder's dataset.json lacks {', '.join(missing)}")
    if years < 1:
        raise ExtendError(f"years: extend by at least one year, not {years}")
    config = CityConfig(
        households=int(manifest["households"]),
        first_year=int(manifest["first_year"]),
        last_year=int(manifest["last_year"]) + years,
    )
    return config, int(manifest["seed"])


def extend_city(folder: Path, out_dir: Path, years: int = 1, progress: Progress | None = None) -> dict[str, Any]:
    """Write the city of `folder` run `years` years longer to `out_dir` (a new folder: source data is never
    edited in place) and return its manifest."""
    if Path(out_dir).resolve() == Path(folder).resolve():
        raise ExtendError(f"--out {out_dir}: write the extended city to a new folder, not over the one it extends")
    config, seed = extension_config(read_manifest(folder), years)
    return simulate_city(config, seed, out_dir, progress)
