"""Streaming batch scoring: partitions give the whole city's table; a re-run reuses unchanged households."""

from __future__ import annotations

import tempfile
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.ingestion import ingest
from features.partitions import PartitionedSources
from features.profiles import build_profiles
from features.pseudonyms import PseudonymKey
from features.sources import read_arrow_tables, read_sources
from models import streaming
from models.streaming import (
    ScoringJob,
    read_previous,
    result_columns,
    result_schema,
    score_partitions,
    score_profiles,
    write_scores,
)
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
def first_run() -> pd.DataFrame:
    return pd.concat([table for _, table in score_partitions(job(), partitioned())], ignore_index=True)


def by_household(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values("household_id").reset_index(drop=True)


class CountingExplain:
    """Wraps models.batch.explain_batch as the streaming module calls it, counting the rows explained."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rows = 0
        original = streaming.explain_batch

        def counted(model, profiles, **kwargs):  # type: ignore[no-untyped-def]
            self.rows += len(profiles)
            return original(model, profiles, **kwargs)

        monkeypatch.setattr(streaming, "explain_batch", counted)


def test_partitioned_run_equals_scoring_the_whole_city_at_once() -> None:
    whole_profiles = build_profiles(ingest(read_sources(city_folder(2_000, 1)), KEY), AS_OF)
    whole = score_profiles(job(), whole_profiles)
    assert list(first_run().columns) == result_columns()
    assert len(first_run()) == 2_000 and first_run()["household_id"].is_unique
    pd.testing.assert_frame_equal(by_household(first_run()), by_household(whole), check_exact=True)
    assert first_run()["synthetic"].all() and (first_run()["model_version"] == "3").all()


def test_each_partition_alone_gives_the_same_tables_as_partitions_scored_together() -> None:
    alone = list(score_partitions(job(), partitioned(), unit_households=1))
    together = list(score_partitions(job(), partitioned(), unit_households=1_000))
    assert [p.index for p, _ in alone] == [p.index for p, _ in together] == list(range(len(partitioned())))
    for (p, a), (_, b) in zip(alone, together, strict=True):
        assert len(a) == p.households
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_rerun_on_unchanged_data_reuses_every_row_and_gives_the_same_table(monkeypatch: pytest.MonkeyPatch) -> None:
    previous = first_run()
    counter = CountingExplain(monkeypatch)
    again = pd.concat(
        [table for _, table in score_partitions(job(), partitioned(), previous=previous)], ignore_index=True
    )
    assert counter.rows == 0
    pd.testing.assert_frame_equal(again, first_run(), check_exact=True)


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
    back = read_previous(out)
    assert back is not None and back["household_id"].is_unique
    assert not (tmp_path / "scores.parquet.partial").exists()


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
    assert not list(temporary.iterdir())  # the spill folder is gone
    both = CliRunner().invoke(app, [*args, "--workers", "2", "--local-cluster", "2"])
    assert both.exit_code != 0 and "choose one of" in " ".join(both.output.split())


@lru_cache(maxsize=1)
def city_tables() -> dict[str, pa.Table]:
    tables, _, _ = read_arrow_tables(city_folder(2_000, 1))
    return tables


def digested(tables: dict[str, pa.Table]) -> PartitionedSources:
    return PartitionedSources.of(dict(tables), digests=True, max_households=400)


def run(parts: PartitionedSources, the_job: ScoringJob | None = None, **kwargs: object) -> pd.DataFrame:
    return pd.concat([t for _, t in score_partitions(the_job or job(), parts, **kwargs)], ignore_index=True)  # type: ignore[arg-type]


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
    """Wraps features.profiles.build_profiles as the streaming module calls it, counting households profiled."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.households = 0
        original = streaming.build_profiles

        def counted(sources, as_of):  # type: ignore[no-untyped-def]
            built = original(sources, as_of)
            self.households += len(built)
            return built

        monkeypatch.setattr(streaming, "build_profiles", counted)


@lru_cache(maxsize=1)
def digested_first_run() -> pd.DataFrame:
    return run(digested(city_tables()))


def test_source_digests_let_a_rerun_profile_only_changed_households_and_equal_a_fresh_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = digested_first_run()
    pd.testing.assert_frame_equal(first.drop(columns="source_digest"), first_run().drop(columns="source_digest"))
    assert first["source_digest"].str.fullmatch("[0-9a-f]{16}").all() and first["source_digest"].is_unique
    changed, touched = raised_wages(city_tables())
    fresh = run(digested(changed))
    counter = CountingProfiles(monkeypatch)
    again = run(digested(changed), previous=first)
    assert counter.households == len(touched) > 150
    pd.testing.assert_frame_equal(again, fresh, check_exact=True)
    moved = set(again.loc[again["source_digest"] != first["source_digest"], "household_id"])
    assert moved == touched


def test_unchanged_sources_send_nothing_to_score(monkeypatch: pytest.MonkeyPatch) -> None:
    first = digested_first_run()  # before the patch: the first run does score
    calls: list[str] = []
    monkeypatch.setattr(streaming, "_call", lambda arguments: calls.append(arguments[-1]))
    again = run(digested(city_tables()), previous=first)
    assert calls == []
    pd.testing.assert_frame_equal(again, first, check_exact=True)


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
    assert not set(again["source_digest"]) & set(first["source_digest"])


def test_a_rerun_on_an_executor_gives_the_same_table() -> None:
    from concurrent.futures import ThreadPoolExecutor

    changed, _ = raised_wages(city_tables())
    with ThreadPoolExecutor(2) as executor:
        again = run(digested(changed), previous=digested_first_run(), executor=executor, in_flight=2)
    pd.testing.assert_frame_equal(again, run(digested(changed)), check_exact=True)


def test_a_process_pool_on_spilled_partitions_gives_the_single_process_table(tmp_path: Path) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    spilled = PartitionedSources.read(city_folder(2_000, 1), max_households=400, digests=True, spill=tmp_path)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        streaming.warm_up(pool, small_model())  # as relapse score does before reading
        first = run(spilled, executor=pool)
        changed, touched = raised_wages(city_tables())
        again = run(digested(changed), previous=first, executor=pool)
    pd.testing.assert_frame_equal(first, digested_first_run(), check_exact=True)
    pd.testing.assert_frame_equal(again, run(digested(changed)), check_exact=True)
