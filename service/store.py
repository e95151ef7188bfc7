"""The service's data layer: what the API and the batch jobs read and write.

Every function takes a `Scope` and filters by it in SQL (docs/architecture.md, non-negotiable 6), and works inside the
caller's transaction (`service.db.session_scope`): nothing here commits. Writes take the verified `Caller` too,
check its permission and write an audit entry with every stored score. Reads return plain frozen values, never
ORM rows; the API checks the caller's permission to read before calling them.
"""

from service._identifications import identifications_by_year
from service._jobs import (
    MAX_JOB_LIST,
    TRANSITIONS,
    JobView,
    commit_chunk,
    committed_chunks,
    create_job,
    get_job,
    iter_job_scores,
    list_jobs,
    mark_chunk_committed,
    update_job,
)
from service._readiness import ReadinessPage, readiness_key, readiness_list
from service._scores import (
    Decisions,
    ScoreInput,
    ScoreView,
    check_decisions,
    household_history,
    record_scores,
    write_decisions,
)
from service._summary import (
    Disagreement,
    ExpectedIdentifications,
    LatestRow,
    LatestScores,
    RegionSummary,
    RiskTypeCount,
    TrendPoint,
    count_scores_after,
    expected_identifications,
    level_trend,
    region_summary,
    score_fingerprint,
    summarise,
)

__all__ = [
    "MAX_JOB_LIST",
    "TRANSITIONS",
    "Decisions",
    "Disagreement",
    "ExpectedIdentifications",
    "JobView",
    "LatestRow",
    "LatestScores",
    "ReadinessPage",
    "RegionSummary",
    "RiskTypeCount",
    "ScoreInput",
    "ScoreView",
    "TrendPoint",
    "check_decisions",
    "commit_chunk",
    "committed_chunks",
    "count_scores_after",
    "create_job",
    "expected_identifications",
    "get_job",
    "household_history",
    "identifications_by_year",
    "iter_job_scores",
    "level_trend",
    "list_jobs",
    "mark_chunk_committed",
    "readiness_key",
    "readiness_list",
    "record_scores",
    "region_summary",
    "score_fingerprint",
    "summarise",
    "update_job",
    "write_decisions",
]
