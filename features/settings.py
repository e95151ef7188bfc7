"""Settings of the `features` package (environment variables `RELAPSE_*`, or a git-ignored `.env`).

Nothing is read at import time: `get_settings()` builds the settings on first use and caches them;
tests clear the cache with `get_settings.cache_clear()` after changing the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class FeaturesSettings(BaseSettings):
    """Where the data lives and which pseudonym key to use."""

    model_config = SettingsConfigDict(env_prefix="RELAPSE_", env_file=".env", extra="ignore")

    # Local data folder; the generated pseudonym key lives in `<data_dir>/secrets/` (git-ignored /data/).
    data_dir: Path = Path("data")
    # HMAC key for ID-number pseudonyms. Unset on one machine: a local key file is used instead.
    pseudonym_key: SecretStr | None = None
    # Stored beside every pseudonym so that a key rotation can tell old pseudonyms from new ones.
    pseudonym_key_version: str = "v1"

    @property
    def pseudonym_key_file(self) -> Path:
        return self.data_dir / "secrets" / "pseudonym.key"


@lru_cache
def get_settings() -> FeaturesSettings:
    return FeaturesSettings()
