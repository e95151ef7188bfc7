"""Benchmark: a county's region report over 50,000 households, rendered server-side (target ≤ 500 ms).

    python -m benchmarks.report_bench                          # SQLite in a temporary folder
    python -m benchmarks.report_bench --database-url postgresql+psycopg://…   # an empty PostgreSQL database

Stores two scoring runs (as of 2024-07-01 and 2025-07-01) of --households households in one county (10
townships × 20 villages), each score with three reasons and their sentences, two measures with what-if and the
official-rule flags, as the scorer stores them (`service.store.record_scores`: audit entries and the narrow
`latest_scores` / `household_runs` rows included). Then it times what `GET /reports/region/<county>` does on the
server — the scoped reads (each household's latest score, counts, trend, risk types, visit list, rules versus
model), the page context and the Jinja2 HTML — in three situations: the first report of the county since the
start (nothing cached: every household's row of `latest_scores` is read), right after a new score landed in the
county (only the households whose latest score changed are read and merged into the cached state), and
unchanged since the last report (an index-only check, then the cached data; median and maximum of --repeats).
The same request through the ASGI app (key check included) and the PDF of the page are timed once each.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

TARGET_MS = 500.0
COUNTY = "990101"
RUNS = (date(2024, 7, 1), date(2025, 7, 1))
REASON_KEYS = ("01", "income", "04", "03", "07", "06", "02", "housing", "09", "05")


def fake_scores(households: int, as_of: date, seed: int) -> list[Any]:
    from features.profiles.rules import RULES
    from models.measure_table import MEASURES
    from models.reasons import reason_names
    from service.store import ScoreInput

    rng = random.Random(seed)
    measures = list(MEASURES.values())[:12]
    rows = []
    for i in range(households):
        probability = min(rng.betavariate(0.6, 18.0), 0.99)
        level = "high" if probability >= 0.10 else "medium" if probability >= 0.03 else "low"
        keys = rng.sample(REASON_KEYS, 3)
        reasons = []
        for rank, key in enumerate(keys):
            zh, en = reason_names(key)
            reasons.append(
                {
                    "key": key,
                    "code": key if key[0].isdigit() else None,
                    "zh": zh,
                    "en": en,
                    "points": round(probability / (rank + 2), 4),
                    "sentence_zh": f"{zh}：家庭成员情况使风险上升（第 {rank + 1} 位原因）",
                    "sentence_en": f"{en}: the household's situation raises the risk (reason {rank + 1})",
                }
            )
        chosen = rng.sample(measures, 2)
        rows.append(
            ScoreInput(
                household_pseudonym=f"H{i:09d}",
                region_code=f"{COUNTY}{i % 10 + 1:03d}{i % 20 + 1:03d}",
                as_of=as_of,
                model_version="7",
                probability=probability,
                level=level,
                input_hash=f"sha256:{i:064x}",
                reasons=reasons,
                measures=[
                    {
                        "measure": m.code,
                        "zh": m.zh,
                        "en": m.en,
                        "risks": keys[:1],
                        "probability_after": probability * 0.7,
                        "points": -probability * 0.3,
                    }
                    for m in chosen
                ],
                rule_flags={rule.name: rng.random() < 0.04 for rule in RULES},
                synthetic=True,
            )
        )
    return rows


def fill(database: Any, households: int, seed: int) -> float:
    from service.keys import Caller
    from service.scope import Scope
    from service.store import record_scores

    started = time.perf_counter()
    operator = Caller.local_operator()
    for run, as_of in enumerate(RUNS):
        rows = fake_scores(households, as_of, seed + run)
        for start in range(0, len(rows), 5000):
            with database.session() as session:
                record_scores(session, Scope(COUNTY), operator, rows[start : start + 5000])
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cold-repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default="", help="an empty database; default: SQLite in a temp folder")
    args = parser.parse_args(argv)

    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.db import open_database
    from service.keys import Caller, create_key
    from service.migrate import upgrade_database
    from service.model_holder import ModelHolder, RegistrySource
    from service.reports import Messages, html_to_pdf, region_report, render_page
    from service.scope import Scope
    from service.settings import ServiceSettings
    from service.store import record_scores

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = ServiceSettings(data_dir=Path(tmp), database_url=url, model_poll_s=0)
        upgrade_database(url)
        database = open_database(url, settings)
        filled = fill(database, args.households, args.seed)
        if database.engine.dialect.name == "postgresql":
            # What autovacuum does to live tables soon after a bulk insert: statistics for the planner and the
            # visibility map that lets the region index answer the fingerprint without visiting the table.
            with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE score_records, latest_scores, household_runs")
        print(f"stored {2 * args.households:,} scores (2 runs × {args.households:,} households) in {filled:.1f} s")

        operator, messages = Caller.local_operator(), Messages("zh")

        def render(db: Any = database) -> tuple[float, str]:
            started = time.perf_counter()
            page = render_page("region", region_report(db, operator, COUNTY, settings, messages))
            return (time.perf_counter() - started) * 1000, page

        # First report of the county since the service started: nothing cached, every household's row is read.
        first = []
        for _ in range(args.cold_repeats):
            fresh = open_database(url, settings)  # a new Database object starts with an empty cache
            first.append(render(fresh)[0])
            fresh.dispose()
        render()
        # After a new score landed in the county: only the household whose latest score changed is read and merged.
        merged = []
        for i in range(args.cold_repeats):
            with database.session() as session:
                extra = fake_scores(1, RUNS[-1], args.seed + 100 + i)
                record_scores(session, Scope(COUNTY), operator, extra)
            merged.append(render()[0])
        # Unchanged since the county's last report (the common case between scoring runs).
        times, html = [], ""
        for _ in range(args.repeats):
            elapsed, html = render()
            times.append(elapsed)
        median = statistics.median(times)

        holder = ModelHolder(RegistrySource("sqlite:///unused"), Path(tmp) / "cache", None)  # no model needed
        app = create_app(settings, holder=holder, database=database)
        app.router.lifespan_context = _no_lifespan(app, database, holder)
        with database.session() as session:
            key = create_key(session, role="official", region_prefix=COUNTY, label="bench").plaintext
        with TestClient(app) as client:
            client.get(f"/reports/region/{COUNTY}", headers={"Authorization": f"Bearer {key}"})
            started = time.perf_counter()
            response = client.get(f"/reports/region/{COUNTY}", headers={"Authorization": f"Bearer {key}"})
            http_ms = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.text
        started = time.perf_counter()
        pdf = html_to_pdf(html)
        pdf_s = time.perf_counter() - started
        database.dispose()

    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(
        f"county report ({args.households:,} households, {backend}), unchanged since the last report: median "
        f"{median:.0f} ms, max {max(times):.0f} ms over {args.repeats} runs (target ≤ {TARGET_MS:.0f} ms) "
        f"— {'OK' if median <= TARGET_MS else 'SLOWER THAN TARGET'}"
    )
    print(f"  after a new score in the county (merged): {', '.join(f'{t:.0f}' for t in merged)} ms")
    print(f"  first report since the start (nothing cached): {', '.join(f'{t:.0f}' for t in first)} ms")
    print(f"  through the ASGI app (key check included): {http_ms:.0f} ms; HTML {len(html) / 1024:.0f} KiB")
    print(f"  PDF of the same page: {pdf_s:.1f} s, {len(pdf) / 1024:.0f} KiB")


def _no_lifespan(app: Any, database: Any, holder: Any) -> Any:
    """A lifespan that only sets the state the report needs (no model to load, no key file to create)."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(_: Any) -> Any:
        app.state.database = database
        app.state.holder = holder
        app.state.pseudonym_key = None
        yield

    return lifespan


if __name__ == "__main__":
    main()
