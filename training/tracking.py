"""MLflow tracking: where runs go, and logging a RiskModel (its files signed, models.signing) as a registered
python_function model."""

from __future__ import annotations

import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.types.schema import AnyType, ColSpec, Schema

import models
from models.mlflow_model import ARTIFACT_KEY
from models.risk_model import RiskModel
from models.signing import SigningKey, sign_folder
from training.settings import TrainingSettings

_ENTRY = Path(models.__file__).parent / "mlflow_model.py"


def configure(settings: TrainingSettings) -> str:
    """Point MLflow at the configured store and make sure the experiment exists; returns its id."""
    if not settings.mlflow_uri:
        settings.mlflow_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    experiment = mlflow.get_experiment_by_name(settings.experiment)
    if experiment is None:
        location = None if settings.mlflow_uri else settings.artifact_location
        return mlflow.create_experiment(settings.experiment, artifact_location=location)
    return experiment.experiment_id


def log_risk_model(model: RiskModel, example: pd.DataFrame, registered_model: str | None, signing: SigningKey) -> Any:
    """Log the model, its files signed with `signing`, in the active run (and register it when a name is given).
    Returns the ModelInfo."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save(Path(tmp) / "risk_model")
        sign_folder(folder, signing)
        example = example[model.feature_names].head(5).copy()
        # The signature follows the profile table's own dtypes (counts are whole numbers and never missing;
        # everything that can be missing is a double). Categories travel as text in JSON requests.
        for f in model.features:
            if f.kind == "category":
                example[f.name] = example[f.name].astype(object).where(example[f.name].notna(), None)
        signature = _with_open_categories(infer_signature(example, model.predict_proba(example)), model)
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(_ENTRY),
            artifacts={ARTIFACT_KEY: str(folder)},
            code_paths=[str(Path(models.__file__).parent)],
            signature=signature,
            input_example=example,
            registered_model_name=registered_model,
            pip_requirements=pinned_requirements(),
        )


# What the python_function entry point imports when it loads and predicts (scipy: lightgbm's own dependency).
RUNTIME_PACKAGES = ("mlflow", "lightgbm", "numpy", "pandas", "scipy")


def pinned_requirements() -> list[str]:
    """The runtime packages at the versions installed here. The venv is synced from uv.lock, so these are the
    lock file's pins: a model served elsewhere gets the library versions it was trained and tested with."""
    return [f"{name}=={version(name)}" for name in RUNTIME_PACKAGES]


def _with_open_categories(signature: ModelSignature, model: RiskModel) -> ModelSignature:
    """Category columns accept text or a pandas categorical (profile tables read from Parquet carry the latter);
    the model itself treats an unknown category as missing."""
    categories = {f.name for f in model.features if f.kind == "category"}
    inputs = [
        ColSpec(AnyType(), spec.name, required=False) if spec.name in categories else spec
        for spec in signature.inputs.inputs
    ]
    return ModelSignature(inputs=Schema(inputs), outputs=signature.outputs)
