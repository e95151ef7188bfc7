"""Settings of the `service` package (environment variables `RELAPSE_*`, or a git-ignored `.env`).

Nothing is read at import time: `get_settings()` builds the settings on first use and caches them;
tests clear the cache with `get_settings.cache_clear()` after changing the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Where the service keeps its database and model cache, where it finds the model, its limits and thresholds."""

    model_config = SettingsConfigDict(env_prefix="RELAPSE_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    # SQLAlchemy URL. Unset: an SQLite file in the data folder, enough for one machine. At team or province
    # scale: `postgresql+psycopg://user:password@host:5432/dbname`.
    database_url: str = ""
    # Seconds an SQLite writer waits for another writer's lock before giving up (the API then answers 503).
    sqlite_busy_timeout_s: float = 15.0
    # Connections kept open per process for PostgreSQL (ignored for SQLite).
    database_pool_size: int = 5
    # Seconds a client is told to wait (Retry-After) when the database is unavailable.
    retry_after_s: int = 5
    # Requests per minute one API key may make, by role (per worker process; 0: no limit), and requests one key
    # may have in flight at once. Assumed defaults: far above what a monitoring system or a report reader
    # needs, low enough that one leaked key cannot take the service's whole capacity.
    rate_limits_per_minute: dict[str, int] = Field(
        default_factory=lambda: {"monitor": 60_000, "official": 6_000, "scientist": 6_000, "admin": 60_000}
    )
    concurrent_requests_per_key: int = Field(default=32, ge=1)

    # The registry the model comes from. Unset: the same local MLflow store `relapse train` registers into.
    mlflow_uri: str = ""
    model_name: str = "relapse-risk"
    model_alias: str = "champion"
    # Seconds between checks for a new champion (0: only on POST /v1/admin/model:reload).
    model_poll_s: float = 60.0
    # The last loaded model is copied here, so the service can start when the registry is unreachable.
    model_cache_dir: Path | None = None
    # The key the trainer signs models with (models.signing): a model whose signature does not check out under
    # it is refused before it is parsed. Unset: the local key file data_dir/secrets/model-signing.key.
    model_signing_key: SecretStr | None = None

    # Days stored scores and audit entries are kept before `relapse purge --retention` deletes them (service.retention);
    # unset: kept for ever. Assumed default: keep everything, since no rule available here fixes a period; each
    # household's latest score per village is kept whatever the setting.
    retention_days_scores: int | None = Field(default=None, ge=1)
    retention_days_audit: int | None = Field(default=None, ge=1)

    # Hosts alert subscriptions may send to (service.alerts), e.g. ["alerts.county.example"]; empty: alerts are off.
    # Only hosts the operator lists: the service never calls an address a caller picked freely.
    alert_hosts: list[str] = Field(default_factory=list)
    # Attempts at one alert before it is dead (listed, replayable by an admin). Assumed: 8 doubling waits from 10 s
    # span about 20 minutes, long enough for a receiver's restart, short enough that an admin hears of an outage.
    alert_max_attempts: int = Field(default=8, ge=1)

    # Idempotency-Key (service.idempotency): how long a stored answer is replayed; how long a repeat waits for the
    # first request still running before 409; after how long a claim whose request never finished (its process
    # died) is taken over. Assumed: a day covers a client's retries, and no request of this API runs 15 minutes.
    idempotency_retention_hours: float = Field(default=24.0, gt=0)
    idempotency_wait_s: float = Field(default=60.0, ge=0)
    idempotency_stale_s: float = Field(default=900.0, gt=0)

    # The API's documentation pages (/docs, /redoc) and /openapi.json, served with local assets: "public", or
    # "off" where the OpenAPI document is published some other way.
    api_docs: Literal["public", "off"] = "public"

    host: str = "127.0.0.1"
    port: int = 8000
    # uvicorn worker processes of `relapse serve`. The work per request holds the GIL (pandas, pydantic,
    # SQLAlchemy), so one process uses one core; N processes serve up to N cores. Each process loads and polls
    # its own copy of the model; one of them at a time runs batch jobs (`service.job_runner`).
    workers: int = Field(default=1, ge=1)
    # Households (or profiles) per scoring request; larger sets go through batch jobs.
    max_batch: int = 1000
    # Scoring requests of up to this many households or profiles take turns in the worker's scoring lane (one at a
    # time, in arrival order), and `profiles:score` ones that wait together are scored together, up to this many
    # profiles in one pass (`service._coalescing`); 0: every request on the thread pool, on its own. Assumed: 64,
    # the size up to which rows are scored without a frame, so a turn is short and never delays others long.
    coalesce_rows: int = Field(default=64, ge=0)
    # Request bodies above this are refused with 413 before they are parsed (1,000 documents fit easily).
    max_body_bytes: int = 64 * 2**20
    # Risk levels from the calibrated probability; unset, the serving model's label's own (`models.outcomes`:
    # need 0.50 / 0.20, identification 0.10 / 0.03, all assumed).
    high_threshold: float | None = Field(default=None, gt=0.0, lt=1.0)
    medium_threshold: float | None = Field(default=None, gt=0.0, lt=1.0)

    # Batch jobs. A job names its source folder as a path under `jobs_allowed_root` (unset: only uploads), or
    # uploads the tables; uploads and results live under `data_dir/jobs`. Households per committed chunk.
    jobs_allowed_root: Path | None = None
    # Whether this process runs queued jobs (one runner per database: turn it off in extra API processes).
    job_runner: bool = True
    job_chunk_households: int = 5000
    # Bytes of one upload request to POST /v1/jobs (413 above); other requests keep `max_body_bytes`.
    max_upload_bytes: int = 2 * 2**30
    # A Dask scheduler address (tcp://host:8786) to run job partitions on; unset: in the service's process.
    dask_scheduler: str = ""

    # Reports ------------------------------------------------------------------------------------------------
    # Secret that signs report session cookies and links; unset: a local file data_dir/secrets/reports.key.
    reports_secret: str = ""
    # How long a report sign-in lasts, and the longest a signed link may live.
    reports_session_hours: float = 8.0
    reports_link_max_minutes: float = 24 * 60.0
    # Mark the session cookie Secure (set it when the service is served over HTTPS).
    reports_cookie_secure: bool = False
    # Households on the printed visit list, and in each rules-versus-model list, of a region report.
    reports_visit_list: int = 200
    reports_compare_list: int = 20
    # The work list of a region report lists, per village, what its staff can visit in one round:
    # `visits_per_worker × workers`, or `reports_visits_per_village` when set (a request may override each).
    # Assumed defaults (no source gives a figure): two grid workers per village, ten home visits each a round.
    reports_visits_per_worker: int = Field(default=10, ge=1)
    reports_workers: int = Field(default=2, ge=1)
    reports_visits_per_village: int | None = Field(default=None, ge=1)
    # Population stability index bands of the model report (assumed: the usual 0.10 / 0.25 convention).
    reports_psi_watch: float = 0.10
    reports_psi_warning: float = 0.25
    # Days of stored scores the model report's score drift counts (assumed: a month is enough scores at county
    # scale for the index's noise to stay below the watch level, and recent enough to show a change).
    reports_score_drift_days: int = Field(default=30, ge=1)
    # End of the Reports block.

    @model_validator(mode="after")
    def _default_database_url(self) -> ServiceSettings:
        if not self.database_url:
            self.database_url = default_database_url(self.data_dir)
        if not self.mlflow_uri:
            self.mlflow_uri = f"sqlite:///{(self.data_dir / 'mlflow' / 'mlflow.db').resolve()}"
        if self.model_cache_dir is None:
            self.model_cache_dir = self.data_dir / "model-cache"
        if self.medium_threshold is not None and self.high_threshold is not None:
            if self.medium_threshold > self.high_threshold:
                raise ValueError("thresholds: need medium_threshold <= high_threshold")
        return self


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'service.db').resolve()}"


@lru_cache
def get_settings() -> ServiceSettings:
    return ServiceSettings()
