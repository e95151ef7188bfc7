"""RiskModel: the deployable model — what training fits, MLflow stores and the service loads.

A RiskModel is a folder of plain files, never a pickle (docs/architecture.md, non-negotiable 7):

    booster.txt       the LightGBM booster in its own text format
    calibrator.json   the map from raw margin to calibrated probability (models.calibration)
    spec.json         the features, in model column order, with kind, categories and monotone direction
    meta.json         catalogue version, training data fingerprint, metrics, whether the data was synthetic
    identification/   optional: the companion model of identification (the same four files), beside a need model

A need model may carry its *identification companion*: a model of the same features trained on who the
monitoring process identifies (`identified_12m`), so that one registered version answers both questions —
the probability of need, which ranks, and the probability of being identified, the second output — from the
same matrix. The companion is signed with the model (models.signing) and loaded with it.

The same `prepare` turns a profile table into the booster's matrix for training, evaluation and serving, so
the model that is evaluated is the model that serves. `prepare_rows` is its row-wise twin for API requests of a
few households (models/_prepare_rows.py), bitwise the same matrix, and falls back to `prepare` for the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.profiles.status import MONITORED
from models._prepare_rows import frame_rows_matrix, values_matrix
from models.calibration import IsotonicCalibrator, SigmoidCalibrator, calibrator_from_dict
from models.outcomes import LEGACY_LABEL

Kind = Literal["number", "count", "flag", "category"]
FILES = ("booster.txt", "calibrator.json", "spec.json", "meta.json")
COMPANION: Final = "identification"  # the companion's subfolder
# Up to this many rows a request's profiles are handled row by row (`prepare_rows`, and in the service the profile
# rows and rule flags); larger ones column by column, where pandas' per-column cost is spread over many rows.
ROWWISE_MAX: Final = 64


class ModelSpecError(ValueError):
    """The input or the model's files do not match the model's feature spec."""


@dataclass(frozen=True)
class FeatureSpec:
    """One model input column."""

    name: str
    kind: Kind
    direction: int = 0  # +1: never lowers risk; −1: never raises it; 0: unconstrained
    categories: tuple[str, ...] = ()


@dataclass
class RiskModel:
    booster: lgb.Booster
    calibrator: IsotonicCalibrator | SigmoidCalibrator
    features: tuple[FeatureSpec, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    # The identification companion of a need model (module docstring); None for every other model.
    identification: RiskModel | None = None

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def catalogue_version(self) -> str | None:
        return self.meta.get("catalogue_version")

    @property
    def label(self) -> str:
        """The label it was trained on: what its probability estimates (`models.outcomes`)."""
        return str(self.meta.get("label") or LEGACY_LABEL)

    # --- input ----------------------------------------------------------------------------------------
    def prepare(self, profiles: pd.DataFrame) -> np.ndarray:
        """The booster's float matrix: categories as their index in the spec (unknown → missing)."""
        return prepare_matrix(profiles, self.features)

    def prepare_rows(
        self, profiles: pd.DataFrame | Sequence[Mapping[str, Any]], rows: Sequence[pd.Series] | None = None
    ) -> np.ndarray:
        """`prepare`, bitwise, without its per-column pandas calls for a request of a few rows.

        `profiles` is a profile frame with its rows already taken (`rows`, each `profiles.iloc[i]`), or the values
        of such rows (mappings, each cell as the frame's row holds it). A frame of more than `ROWWISE_MAX` rows,
        or without `rows`, goes through `prepare`, and so does whatever the row-wise conversion leaves: dtypes
        other than numpy numbers and text categories, features beyond the catalogue, missing features (which
        `prepare` names). Tested equal to `prepare` (tests/models/test_prepare_rows.py).
        """
        if not isinstance(profiles, pd.DataFrame):
            x = values_matrix(self.features, profiles)
            return self.prepare(profiles_frame(profiles)) if x is None else x
        if rows is None or len(rows) > ROWWISE_MAX:
            return self.prepare(profiles)
        converted = frame_rows_matrix(self.features, profiles, rows)
        if converted is None:
            return self.prepare(profiles)
        x, other = converted
        if other:
            x[:, other] = prepare_matrix(profiles, tuple(self.features[j] for j in other))
        return x

    # --- output ---------------------------------------------------------------------------------------
    def margin(self, profiles: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Raw booster output (log-odds of the uncalibrated model)."""
        x = profiles if isinstance(profiles, np.ndarray) else self.prepare(profiles)
        return np.asarray(self.booster.predict(x, raw_score=True, num_threads=1), dtype=float)

    def predict_proba(self, profiles: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Calibrated probability of the model's label (`label`) within its horizon."""
        return self.calibrator.predict(self.margin(profiles))

    def identification_proba(self, x: np.ndarray, statuses: Sequence[object] | None = None) -> np.ndarray | None:
        """The companion's calibrated probability of identification for the prepared matrix `x`; None without.

        NaN for a household whose monitoring status (`statuses`, one per row) says it is under monitoring: it cannot
        be newly identified, and the companion learned only from households that were not."""
        if self.identification is None:
            return None
        found = self.identification.predict_proba(x)
        if statuses is not None:
            found[[status == MONITORED for status in statuses]] = np.nan
        return found

    # --- files ----------------------------------------------------------------------------------------
    def save(self, folder: Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "booster.txt").write_text(self.booster.model_to_string(), encoding="utf-8")
        _write_json(folder / "calibrator.json", self.calibrator.to_dict())
        _write_json(folder / "spec.json", {"features": [asdict(f) for f in self.features]})
        _write_json(folder / "meta.json", self.meta)
        if self.identification is not None:
            self.identification.save(folder / COMPANION)
        return folder

    @classmethod
    def load(cls, folder: Path) -> RiskModel:
        folder = Path(folder)
        missing = [name for name in FILES if not (folder / name).is_file()]
        if missing:
            raise ModelSpecError(f"model folder {folder} lacks {', '.join(missing)}")
        booster = lgb.Booster(model_str=(folder / "booster.txt").read_text(encoding="utf-8"))
        spec = json.loads((folder / "spec.json").read_text(encoding="utf-8"))
        features = tuple(
            FeatureSpec(f["name"], f["kind"], int(f.get("direction", 0)), tuple(f.get("categories", ())))
            for f in spec["features"]
        )
        if booster.feature_name() != [f.name for f in features]:
            raise ModelSpecError("booster.txt and spec.json name different features")
        calibrator = calibrator_from_dict(json.loads((folder / "calibrator.json").read_text(encoding="utf-8")))
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        companion = cls.load(folder / COMPANION) if (folder / COMPANION).is_dir() else None
        if companion is not None and _matrix_spec(companion.features) != _matrix_spec(features):
            raise ModelSpecError(f"{COMPANION}/spec.json names other features than the model")
        return cls(booster, calibrator, features, meta, companion)


def model_folders(root: Path) -> list[Path]:
    """The model folders under `root` (a downloaded version, a backup), sorted: each folder with a `booster.txt`
    that is not the companion of the model in the folder above it."""
    folders = {path.parent for path in Path(root).rglob("booster.txt")}
    return sorted(f for f in folders if not (f.name == COMPANION and (f.parent / "booster.txt").is_file()))


def prepare_matrix(profiles: pd.DataFrame, features: tuple[FeatureSpec, ...]) -> np.ndarray:
    """Profiles → float64 matrix in spec order. A missing column is an error; missing values stay NaN."""
    absent = [f.name for f in features if f.name not in profiles.columns]
    if absent:
        raise ModelSpecError(f"profiles lack the model's features: {', '.join(absent[:10])}")
    out = np.empty((len(profiles), len(features)), dtype=np.float64)
    for j, f in enumerate(features):
        column = profiles[f.name]
        if f.kind == "category":
            codes = pd.Index(list(f.categories)).get_indexer(pd.Index(column.astype("string").astype(object)))
            out[:, j] = np.where(codes < 0, np.nan, codes)
        else:
            out[:, j] = pd.to_numeric(column, errors="coerce").astype("float64").to_numpy(na_value=np.nan)
    return out


def _matrix_spec(features: tuple[FeatureSpec, ...]) -> list[tuple[str, str, tuple[str, ...]]]:
    """What makes the matrix `prepare` builds: each feature's name, kind and category codes, in order."""
    return [(f.name, f.kind, f.categories) for f in features]


def profiles_frame(values: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A frame of profile rows given as values, in object columns (for the rare paths that need a frame)."""
    return pd.DataFrame({name: pd.Series([row[name] for row in values], dtype=object) for name in values[0]})


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
