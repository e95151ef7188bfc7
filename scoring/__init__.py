"""The scoring pipeline: the one road from source rows to scored, explained result records, in batch.

`job` (what every partition of a run shares), `partition` (one partition scored), `results` (the result schema
and the Parquet writer), `reuse` (what a re-run takes from an earlier result), `units` (consecutive partitions
scored together), `run` (`score_partitions`: units in order, here or on an executor), `pool` (a process pool
for it) and `cluster` (a Dask executor for it). Imports `features` and `models`, never `service` or `training`
(import-linter contracts).
"""
