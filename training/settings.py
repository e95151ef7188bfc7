"""Settings of the `training` package (environment variables `RELAPSE_*`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Months between the reference dates of the training snapshots (`relapse train --snapshot-months`); why
# quarterly: training.pipeline.default_as_of_dates.
DEFAULT_SNAPSHOT_MONTHS = 3


class TrainingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RELAPSE_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    # A tracking server (http://…, postgresql://…) instead of the embedded SQLite store under data_dir.
    mlflow_uri: str | None = None
    experiment: str = "relapse-risk"
    registered_model: str = "relapse-risk"
    # HMAC key that signs every model this trains (models.signing); the service checks it with the same key.
    # Unset: a local key file data_dir/secrets/model-signing.key, created on first training.
    model_signing_key: SecretStr | None = None

    # Promotion gate (relapse promote). ECE and fairness limits are absolute.
    gate_max_ece: float = 0.02
    gate_max_tpr_gap: float = 0.25  # head gender, minority, disability in the household, household type
    gate_max_tpr_gap_county: float = 0.35  # counties differ in size and shocks; wider by design

    @property
    def mlflow_dir(self) -> Path:
        return self.data_dir / "mlflow"

    @property
    def tracking_uri(self) -> str:
        if self.mlflow_uri:
            return self.mlflow_uri
        return f"sqlite:///{(self.mlflow_dir / 'mlflow.db').resolve()}"

    @property
    def artifact_location(self) -> str:
        return (self.mlflow_dir / "artifacts").resolve().as_uri()


@lru_cache
def get_settings() -> TrainingSettings:
    return TrainingSettings()
