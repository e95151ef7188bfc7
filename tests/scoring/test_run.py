"""Streaming batch scoring: partitions give the whole city's table; a re-run reuses unchanged households."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import scoring.partition
import scoring.pool
import scoring.reuse
import scoring.run
import scoring.units
from features.contract.codes import MONITORING_TYPES
from features.profiles.build import build_profiles
from features.profiles.monitoring_type import expected_types
from features.pseudonyms.ingestion import ingest
from features.pseudonyms.keys import PseudonymKey
from features.reading.partitions import PartitionedSources
from features.reading.sources import read_arrow_tables, read_sources
from scoring.job import ScoringJob
from scoring.partition import score_profiles
from scoring.results import result_columns, result_schema, result_table, write_scores
from scoring.reuse import Earlier
from scoring.run import score_partitions
from tests.cities import city_folder
from tests.models.explain_fixtures import small_model

KEY = PseudonymKey.from_text("k" * 40, "v1")
AS_OF = date(2024, 1, 1)


def job() -> ScoringJob:
    return ScoringJob(small_model(), "3", AS_OF, key=KEY, synthetic=True)


@lru_cache(maxsize=1)
def partitioned() -> PartitionedSources:
    return PartitionedSources.read(city_folder(2_000, 1), max_households=400)


@lru_cache(maxsize=1)
def first_run() -> pa.Table:
    return pa.concat_tables([table for _, table in score_partitions(job(), partitioned())])


def by_household(table: pa.Table) -> pa.Table:
    return table.sort_by("household_id")


def assert_same(got: pa.Table, expected: pa.Table) -> None:
    """Equal tables: the same schema and the same values bit for bit (pandas names the first difference)."""
    pd.testing.assert_frame_equal(got.to_pandas(), expected.to_pandas(), check_exact=True)
    assert got.equals(expected)


class CountingExplain:
    """Wraps models.batch.explain_batch as scoring.partition calls it, counting the rows explained."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rows = 0
        original = scoring.partition.explain_batch

        def counted(model, profiles, **kwargs):  # type: ignore[no-untyped-def]
            self.rows += len(profiles)
            return original(model, profiles, **kwargs)

        monkeypatch.setattr(scoring.partition, "explain_batch", counted)


def test_partitioned_run_equals_scoring_the_whole_city_at_once() -> None:
    whole_profiles = build_profiles(ingest(read_sources(city_folder(2_000, 1)), KEY), AS_OF)
    whole = result_table(score_profiles(job(), whole_profiles))
    assert first_run().schema.equals(result_schema()) and first_run().column_names == result_columns()
    frame = first_run().to_pandas()
    assert len(frame) == 2_000 and frame["household_id"].is_unique
    assert_same(by_household(first_run()), by_household(whole))
    assert frame["synthetic"].all() and (frame["model_version"] == "3").all()


def test_result_rows_carry_the_monitoring_type_their_profiles_would_enter_as() -> None:
    profiles = build_profiles(ingest(read_sources(city_folder(2_000, 1)), KEY), AS_OF)
    frame = first_run().to_pandas().set_index("household_id").loc[profiles["household_id"]]
    frame = frame.astype(object).where(frame.notna(), None)
    assert frame["expected_monitoring_type"].tolist() == list(expected_types(profiles))
    assert set(frame["expected_monitoring_type"]) == set(MONITORING_TYPES)
    names = {code: [zh, en] for code, (zh, en) in MONITORING_TYPES.items()}
    for code, zh, en in frame[
        ["expected_monitoring_type", "expected_monitoring_type_zh", "expected_monitoring_type_en"]
    ].itertuples(index=False):
        assert [zh, en] == names[code]
    monitored = frame["monitoring_status"] == "monitored"
    assert monitored.any()
    assert (frame.loc[monitored, "expected_monitoring_type"] == frame.loc[monitored, "monitoring_type"]).all()


@pytest.mark.slow
def test_each_partition_alone_gives_the_same_tables_as_partitions_scored_together() -> None:
    alone = list(score_partitions(job(), partitioned(), unit_households=1))
    together = list(score_partitions(job(), partitioned(), unit_households=1_000))
    assert [p.index for p, _ in alone] == [p.index for p, _ in together] == list(range(len(partitioned())))
    for (p, a), (_, b) in zip(alone, together, strict=True):
        assert a.num_rows == p.households
        assert_same(a, b)


def test_rerun_on_unchanged_data_reuses_every_row_and_gives_the_same_table(monkeypatch: pytest.MonkeyPatch) -> None:
    previous = first_run()
    counter = CountingExplain(monkeypatch)
    again = pa.concat_tables([table for _, table in score_partitions(job(), partitioned(), previous=previous)])
    assert counter.rows == 0
    assert_same(again, first_run())


def test_rerun_after_changes_explains_only_changed_households_and_equals_a_fresh_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    profiles = build_profiles(ingest(partitioned().sources(0), KEY), AS_OF)
    previous = score_profiles(job(), profiles)
    changed = profiles.copy()
    rows = np.arange(0, len(changed), 10)  # 10 % of the households
    changed.loc[rows, "income_pc_yuan"] = changed.loc[rows, "income_pc_yuan"].fillna(0) + 1_500.0
    fresh = score_profiles(job(), changed)
    counter = CountingExplain(monkeypatch)
    reused = score_profiles(job(), changed, previous)
    assert counter.rows == len(rows)
    pd.testing.assert_frame_equal(reused, fresh, check_exact=True)
    assert (reused.loc[rows, "profile_hash"] != previous.loc[rows, "profile_hash"]).all()


def test_another_model_version_reuses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    profiles = build_profiles(ingest(partitioned().sources(1), KEY), AS_OF)
    previous = score_profiles(job(), profiles)
    counter = CountingExplain(monkeypatch)
    other = ScoringJob(small_model(), "4", AS_OF, key=KEY, synthetic=True)
    score_profiles(other, profiles, previous)
    assert counter.rows == len(profiles)


def test_skip_leaves_out_done_partitions_and_progress_counts_households() -> None:
    seen: list[tuple[str, int, int]] = []
    done = list(score_partitions(job(), partitioned(), skip=[0, 2], progress=lambda *a: seen.append(a)))
    assert [p.index for p, _ in done] == [p.index for p in partitioned().partitions if p.index not in (0, 2)]
    assert seen[-1][1] == seen[-1][2] == 2_000


def test_write_scores_keeps_the_schema_and_every_row(tmp_path: Path) -> None:
    out = tmp_path / "scores.parquet"
    rows = write_scores(score_partitions(job(), partitioned(), skip=range(2, len(partitioned()))), out)
    written = pq.read_table(out)
    assert written.schema.equals(result_schema())
    assert written.num_rows == rows == sum(p.households for p in partitioned().partitions[:2])
    back = Earlier.read(out)
    assert back is not None and back.digests is not None
    assert pc.count_distinct(written.column("household_id")).as_py() == written.num_rows
    assert not (tmp_path / "scores.parquet.partial").exists()


def test_a_table_the_writer_thread_rejects_fails_the_write_and_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "scores.parquet"
    first = partitioned().partitions[0]
    good = first_run().slice(0, 10)
    results = [(first, good), (first, good.drop_columns(["margin"])), (first, good)]
    with pytest.raises(ValueError, match="schema"):
        write_scores(iter(results), out)
    assert not out.exists()


@pytest.mark.slow
def test_relapse_score_writes_every_household_and_a_rerun_reuses_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_settings: object
) -> None:
    from typer.testing import CliRunner

    from relapse import score_command
    from relapse.cli import app

    monkeypatch.setattr(score_command, "registered_model", lambda version: (small_model(), "3"))
    out = tmp_path / "scores.parquet"
    args = ["score", "--data", str(city_folder(2_000, 1)), "--as-of", "2024-01-01", "--out", str(out)]
    first = CliRunner().invoke(app, [*args, "--partition-households", "400"])
    assert first.exit_code == 0, first.output
    assert "scored 2,000 households" in first.output and "SYNTHETIC" in first.output
    written = pq.read_table(out).to_pandas()
    assert len(written) == 2_000 and written["household_id"].is_unique
    again = CliRunner().invoke(app, args)  # --previous defaults to --out: everything reused
    assert again.exit_code == 0, again.output
    assert "reusing unchanged households" in " ".join(again.output.split())  # rich wraps long lines
    pd.testing.assert_frame_equal(pq.read_table(out).to_pandas(), written, check_exact=True)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))  # where the spill folder goes
    pooled = CliRunner().invoke(app, [*args, "--workers", "2", "--previous", str(tmp_path / "none.parquet")])
    assert pooled.exit_code == 0, pooled.output  # two worker processes reading the spilled partitions
    pd.testing.assert_frame_equal(pq.read_table(out).to_pandas(), written, check_exact=True)
    assert not list(temporary.glob("relapse-partitions-*"))  # the spill folder is gone (a forkserver keeps its own)
    settled = CliRunner().invoke(app, [*args, "--workers", "2"])  # a re-run as users run it: settled read, pool
    assert settled.exit_code == 0, settled.output
    pd.testing.assert_frame_equal(pq.read_table(out).to_pandas(), written, check_exact=True)
    assert not list(temporary.glob("relapse-partitions-*"))
    assert len(list((tmp_path / "data" / "row-owner-cache").glob("*.digests.npy"))) >= 9  # a table, an entry
    both = CliRunner().invoke(app, [*args, "--workers", "2", "--local-cluster", "2"])
    assert both.exit_code != 0 and "choose one of" in " ".join(both.output.split())


@lru_cache(maxsize=1)
def city_tables() -> dict[str, pa.Table]:
    tables, _, _ = read_arrow_tables(city_folder(2_000, 1))
    return tables


def digested(tables: dict[str, pa.Table]) -> PartitionedSources:
    return PartitionedSources.of(dict(tables), digests=True, max_households=400)


def run(parts: PartitionedSources, the_job: ScoringJob | None = None, **kwargs: object) -> pa.Table:
    return pa.concat_tables([t for _, t in score_partitions(the_job or job(), parts, **kwargs)])  # type: ignore[arg-type]


def raised_wages(tables: dict[str, pa.Table], share: float = 0.10) -> tuple[dict[str, pa.Table], set[str]]:
    """The benchmark's change: 1,000 yuan more local wages in every income row of `share` of households."""
    ids = tables["households"].column("household_id").to_numpy(zero_copy_only=False)
    picked = set(np.random.default_rng(7).choice(ids, int(len(ids) * share), replace=False))
    income = tables["income"].to_pandas()
    hit = income["household_id"].isin(picked)
    income.loc[hit, "wage_local_yuan"] = income.loc[hit, "wage_local_yuan"].fillna(0) + 1_000.0
    changed = dict(tables)
    changed["income"] = pa.Table.from_pandas(income, schema=tables["income"].schema, preserve_index=False)
    return changed, set(income.loc[hit, "household_id"])


class CountingProfiles:
    """Wraps features.profiles.build.build_profiles as scoring.partition calls it, counting households profiled."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.households = 0
        original = scoring.partition.build_profiles

        def counted(sources, as_of):  # type: ignore[no-untyped-def]
            built = original(sources, as_of)
            self.households += len(built)
            return built

        monkeypatch.setattr(scoring.partition, "build_profiles", counted)


@lru_cache(maxsize=1)
def digested_first_run() -> pa.Table:
    return run(digested(city_tables()))


def digests_of(table: pa.Table) -> pd.Series:
    frame = table.select(["household_id", "source_digest"]).to_pandas()
    return frame.set_index("household_id")["source_digest"]


def test_source_digests_let_a_rerun_profile_only_changed_households_and_equal_a_fresh_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = digested_first_run()
    assert_same(first.drop_columns("source_digest"), first_run().drop_columns("source_digest"))
    assert digests_of(first).str.fullmatch("[0-9a-f]{16}").all() and digests_of(first).is_unique
    changed, touched = raised_wages(city_tables())
    fresh = run(digested(changed))
    counter = CountingProfiles(monkeypatch)
    again = run(digested(changed), previous=first)
    assert counter.households == len(touched) > 150
    assert_same(again, fresh)
    before, after = digests_of(first), digests_of(again)
    assert set(after.index[after != before.reindex(after.index)]) == touched


def settled_read(
    tables: dict[str, pa.Table], previous: pa.Table, the_job: ScoringJob | None = None
) -> PartitionedSources:
    """What `relapse score` reads on a re-run: households an earlier row stands for keep only their households row."""
    earlier = Earlier.of(previous)
    assert earlier is not None
    return PartitionedSources.of(dict(tables), max_households=400, settled=earlier.settled(the_job or job()))


@pytest.mark.slow
def test_a_settled_read_keeps_only_changed_households_rows_and_the_rerun_equals_a_fresh_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = digested_first_run()
    changed, touched = raised_wages(city_tables())
    parts = settled_read(changed, first)
    assert parts.settled is not None and int((~parts.settled).sum()) == len(touched)
    assert parts.tables["households"].num_rows == 2_000  # every household keeps its place and its digest
    for name in ("members", "income", "events", "member_status"):
        expected = digested(changed).tables[name]
        if name != "member_status":
            kept = set(parts.tables[name].column("household_id").to_pylist())
            assert kept == touched & set(expected.column("household_id").to_pylist())
        assert 0 < parts.tables[name].num_rows < expected.num_rows / 5
    counter = CountingProfiles(monkeypatch)
    again = run(parts, previous=first)
    assert counter.households == len(touched)
    assert_same(again, run(digested(changed)))


def test_a_settled_read_scored_without_its_earlier_table_fails_instead_of_scoring_missing_rows() -> None:
    parts = settled_read(city_tables(), digested_first_run())
    with pytest.raises(ValueError, match="settled households without an earlier row"):
        run(parts)


def test_unchanged_sources_send_nothing_to_score(monkeypatch: pytest.MonkeyPatch) -> None:
    first = digested_first_run()  # before the patch: the first run does score
    calls: list[str] = []
    monkeypatch.setattr(scoring.run, "_call", lambda arguments: calls.append(arguments[-1]))
    again = run(digested(city_tables()), previous=first)
    assert calls == []
    assert_same(again, first)
    assert_same(run(settled_read(city_tables(), first), previous=first), first)
    assert calls == []


@pytest.mark.parametrize(
    "other",
    [
        ScoringJob(small_model(), "3", date(2024, 7, 1), key=KEY, synthetic=True),
        ScoringJob(small_model(), "3", AS_OF, key=PseudonymKey.from_text("q" * 40, "v2"), synthetic=True),
        ScoringJob(small_model(), "4", AS_OF, key=KEY, synthetic=True),
    ],
    ids=["other reference date", "other pseudonym key", "other model version"],
)
def test_source_digests_do_not_carry_over_to_another_run(monkeypatch: pytest.MonkeyPatch, other: ScoringJob) -> None:
    first = digested_first_run()  # before the counter: only the second run is counted
    counter = CountingProfiles(monkeypatch)
    again = run(digested(city_tables()), other, previous=first)
    assert counter.households == 2_000
    assert not set(digests_of(again)) & set(digests_of(first))
    parts = settled_read(city_tables(), first, other)
    assert parts.settled is not None and not parts.settled.any()


def test_a_rerun_on_an_executor_gives_the_same_table() -> None:
    from concurrent.futures import ThreadPoolExecutor

    changed, _ = raised_wages(city_tables())
    with ThreadPoolExecutor(2) as executor:
        again = run(digested(changed), previous=digested_first_run(), executor=executor, in_flight=2)
    assert_same(again, run(digested(changed)))


def test_the_forkserver_preloads_the_module_whose_function_workers_run() -> None:
    assert scoring.pool.WORKER_MODULE == scoring.run._call.__module__


@pytest.mark.slow
@pytest.mark.parametrize("start", ["forkserver", "spawn"])
def test_a_process_pool_on_spilled_partitions_gives_the_single_process_table(tmp_path: Path, start: str) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    spilled = PartitionedSources.read(city_folder(2_000, 1), max_households=400, digests=True, spill=tmp_path / "a")
    if start == "forkserver":  # what relapse score uses: workers forked from a server that imported the code once
        # A fresh process (as `relapse score` is) gets the forkserver. This test process may not: a server an
        # earlier test started here can be gone, and then the pool falls back to spawn, by design.
        fresh = subprocess.run(
            [sys.executable, "-c", "import scoring.pool as p; print(p.process_pool(1)._mp_context.get_start_method())"],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        assert fresh.stdout.strip() == "forkserver", fresh.stderr
        pool = scoring.pool.process_pool(2)
    else:
        pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    with pool:
        scoring.pool.warm_up(pool, small_model())  # as relapse score does before reading
        first = run(spilled, executor=pool)
        changed, touched = raised_wages(city_tables())
        again = run(digested(changed), previous=first, executor=pool)
        folder = tmp_path / "changed"  # as relapse score reads a re-run: settled rows left out, the rest spilled
        folder.mkdir()
        for name, table in changed.items():
            pq.write_table(table, folder / f"{name}.parquet")
        earlier = Earlier.of(first)
        assert earlier is not None
        settled = PartitionedSources.read(
            folder, max_households=400, spill=tmp_path / "b", settled=earlier.settled(job())
        )
        pruned = run(settled, previous=earlier, executor=pool)
    assert_same(first, digested_first_run())
    assert_same(again, run(digested(changed)))
    assert_same(pruned, again)


@pytest.mark.slow
def test_result_rows_sent_back_in_another_order_are_put_back_in_household_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers send rows in the order of the households they got, and the fast paths rely on it (no look-up);
    rows in any other order are looked up by household, so every table comes out the same."""
    changed, _ = raised_wages(city_tables())
    plain, first = first_run(), digested_first_run()  # before the patch
    expected = run(digested(changed), previous=first)
    scored = scoring.run._call

    def reversed_rows(arguments: tuple[object, ...]) -> pa.Table:
        table = scored(arguments)
        return table.take(pa.array(np.arange(table.num_rows)[::-1]))

    monkeypatch.setattr(scoring.run, "_call", reversed_rows)
    assert_same(run(partitioned()), plain)  # one unit of five partitions, split by household
    assert_same(run(digested(city_tables())), first)  # every row fresh, put in order
    assert_same(run(digested(changed), previous=first), expected)  # fresh rows among reused ones


@pytest.mark.parametrize("hashing", ["64-bit", "colliding"])
def test_earlier_rows_are_each_households_first_row(monkeypatch: pytest.MonkeyPatch, hashing: str) -> None:
    """Looked up by hash and checked by string; with hashes that collide (every id of one length alike) the
    strings decide, so the rows are the same."""
    if hashing == "colliding":
        monkeypatch.setattr(scoring.reuse, "string_hashes", lambda names: pc.utf8_length(names).to_numpy().astype("u8"))
    rng = np.random.default_rng(11)
    written = [f"h{n}" for n in rng.integers(0, 400, 600)]  # repeated ids: the first row counts
    earlier = Earlier.of(first_run().slice(0, 600).set_column(0, "household_id", pa.array(written)))
    assert earlier is not None
    asked = [f"h{n}" for n in rng.integers(0, 800, 1_000)]
    expected = [written.index(name) if name in written else -1 for name in asked]
    assert earlier.rows(np.array(asked, dtype=object)).tolist() == expected
    assert earlier.rows(pa.chunked_array([asked[:300], asked[300:]])).tolist() == expected


def test_units_of_a_settled_read_are_sized_by_the_households_left_to_score() -> None:
    from features.reading.partitions import Partition

    parts = [Partition(i, "520102", i, 100) for i in range(10)]
    assert [len(u) for u in scoring.units.plan_units(parts, 50)] == [1] * 10  # every partition over the limit: alone
    scored = {i: 10 if i < 6 else 40 for i in range(10)}
    units = scoring.units.plan_units(parts, 50, scored)
    assert [p for u in units for p in u] == parts  # each partition once, in order
    for u in units:
        assert sum(scored[p.index] for p in u) <= 50 and sum(p.households for p in u) <= 50 * 4
    assert [len(u) for u in units] == [2, 2, 2, 1, 1, 1, 1]
