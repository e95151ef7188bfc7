"""What every partition of a run shares (`ScoringJob`), and one explainer per model in each process."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from features.pseudonyms.keys import PseudonymKey
from models.batch import DEFAULT_OPTIONS, BatchOptions
from models.reasons import Explainer, default_explainer
from models.risk_model import RiskModel


@dataclass(frozen=True)
class ScoringJob:
    """What every partition of a run shares: the model, the date, the options and where caches live."""

    model: RiskModel
    model_version: str
    as_of: date
    options: BatchOptions = DEFAULT_OPTIONS
    key: PseudonymKey | None = None
    cache_dir: Path | None = None  # SHAP values by (model version, profile hash)
    synthetic: bool = False
    explainer: Explainer | None = field(default=None, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        # Worker processes build their own explainer (numba kernels do not travel); the model travels as text.
        state = dict(self.__dict__)
        state["explainer"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def with_explainer(self) -> ScoringJob:
        if self.explainer is not None:
            return self
        return ScoringJob(
            self.model,
            self.model_version,
            self.as_of,
            self.options,
            self.key,
            self.cache_dir,
            self.synthetic,
            explainer_for(self.model),
        )


_EXPLAINERS: dict[bytes, Explainer] = {}


def model_digest(model: RiskModel) -> bytes:
    return hashlib.blake2b(model.booster.model_to_string().encode(), digest_size=16).digest()


def explainer_for(model: RiskModel) -> Explainer:
    """One explainer per model in a process: worker processes get a new model object with every partition."""
    digest = model_digest(model)
    if digest not in _EXPLAINERS:
        if len(_EXPLAINERS) >= 4:
            _EXPLAINERS.clear()
        _EXPLAINERS[digest] = default_explainer(model.booster)
    return _EXPLAINERS[digest]
