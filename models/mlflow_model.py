"""The MLflow python_function entry point of a RiskModel ("models from code": nothing is pickled).

MLflow copies this file into the logged model and runs it on load; `load_context` reads the RiskModel's plain
files from the model's artifacts, so plain MLflow can use the registered model:

    mlflow.pyfunc.load_model("models:/relapse-risk@champion").predict(profiles_df)  # calibrated probabilities
    mlflow models serve -m models:/relapse-risk@champion --env-manager local
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

ARTIFACT_KEY = "risk_model"


class RiskModelPyfunc(PythonModel):
    def load_context(self, context: Any) -> None:
        from models.risk_model import RiskModel

        self.model = RiskModel.load(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        return self.model.predict_proba(pd.DataFrame(model_input))


mlflow.models.set_model(RiskModelPyfunc())
