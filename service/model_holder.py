"""The serving model: resolved from the registry by alias, pinned to a concrete version, swapped atomically.

A request takes `holder.current` once and uses that `ServingModel` to the end, so every response is answered
entirely by one version even while a reload swaps in another (a single reference assignment is atomic).
A model whose feature spec does not match this service's catalogue is refused and the previous one keeps
serving. The last model loaded is kept in a local cache folder; if the registry is unreachable at start, the
service serves that copy and reports itself degraded.

The booster is read from its LightGBM text file (RiskModel.load) — never from a pickle — and only after the
model's signed manifest checks out (models.signing), in the registry's copy and in the cache alike: a truncated
or edited file is refused before LightGBM parses it, and the previous model keeps serving.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from features.profiles.catalogue import FEATURES, catalogue_version
from models.reasons import Explainer, default_explainer
from models.risk_model import RiskModel, model_folders
from models.signing import ModelIntegrityError, SigningKey, verify_folder

_LATEST = "latest.json"


class ModelLoadError(RuntimeError):
    """No model could be loaded, or the loaded one does not fit this service."""


@dataclass(frozen=True)
class ServingModel:
    version: str
    model: RiskModel
    synthetic: bool
    loaded_at: float
    source: str  # "registry" or "cache"
    info: dict[str, Any] = field(default_factory=dict)  # metrics and model card from the registry
    # Built once per loaded model (its tables take a while), then shared by every request this model answers.
    explainer: Explainer | None = None


@dataclass
class RegistrySource:
    """Where models come from: an MLflow tracking/registry URI, a registered model name and an alias."""

    tracking_uri: str
    name: str = "relapse-risk"
    alias: str = "champion"

    def resolve(self) -> str:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return str(client.get_model_version_by_alias(self.name, self.alias).version)

    def download(self, version: str, into: Path) -> tuple[Path, dict[str, Any]]:
        """The RiskModel folder of `version` and what the registry says about it (metrics, card)."""
        import mlflow
        from mlflow import MlflowClient

        mlflow.set_tracking_uri(self.tracking_uri)
        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        # The version's own storage location, resolved by this source's registry: a `models:/` URI would be
        # resolved by the process-wide registry URI, which may name another store.
        source = client.get_model_version_download_uri(self.name, version)
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(into)))
        folder = model_folders(local)[0]
        mv = client.get_model_version(self.name, version)
        info: dict[str, Any] = {"tags": dict(mv.tags), "run_id": mv.run_id}
        if mv.run_id:
            run = client.get_run(mv.run_id)
            info["metrics"] = dict(run.data.metrics)
            try:
                info["model_card"] = mlflow.artifacts.load_text(f"runs:/{mv.run_id}/model_card.md")
            except Exception:  # noqa: BLE001 — a missing card is reported, not fatal
                info["model_card"] = None
        return folder, info


def check_fits_catalogue(model: RiskModel) -> None:
    """Refuse a model whose features are not this service's catalogue (names, kinds and version)."""
    expected = [(f.name, f.kind) for f in FEATURES]
    actual = [(f.name, f.kind) for f in model.features]
    if actual != expected:
        missing = sorted({n for n, _ in expected} - {n for n, _ in actual})[:5]
        extra = sorted({n for n, _ in actual} - {n for n, _ in expected})[:5]
        raise ModelLoadError(
            f"the model's features do not match this service's catalogue (missing {missing}, unexpected {extra})"
        )
    version = model.meta.get("catalogue_version")
    if version != catalogue_version():
        raise ModelLoadError(f"the model was trained with catalogue {version}, this service has {catalogue_version()}")


def load_checked(version: str, folder: Path, signing: SigningKey | None) -> RiskModel:
    """The version's RiskModel, or `ModelLoadError` naming what is wrong with its files. Whatever fails once the
    files are here is the model's fault, not the registry's: the caller answers 409, not 503.

    The files' signature is checked first (models.signing); LightGBM parses only a model that passes. Without a
    key (none configured and no key file) every model is refused."""
    try:
        if signing is None:
            raise ModelIntegrityError("this service has no model-signing key, so no model can be verified")
        verify_folder(folder, signing)
    except ModelIntegrityError as error:
        raise ModelLoadError(f"version {version} is refused: {error}") from error
    try:
        model = RiskModel.load(folder)
    except Exception as error:  # noqa: BLE001 — a broken spec, calibrator or booster text, named below
        raise ModelLoadError(f"version {version} cannot be loaded: {type(error).__name__}: {error}") from error
    check_fits_catalogue(model)
    return model


class ModelHolder:
    """Holds the serving model; `reload()` is safe to call from any thread while requests are served."""

    def __init__(self, source: RegistrySource, cache_dir: Path, signing: SigningKey | None) -> None:
        self.source = source
        self.signing = signing
        self.cache_dir = Path(cache_dir)
        self.current: ServingModel | None = None
        self.degraded: str | None = None  # why, when serving from the cache or not at all
        self.last_error: str | None = None
        self.refused: str | None = None  # why the alias's latest version was refused (the previous one serves)
        self.refusals = 0  # versions refused since start
        self._lock = threading.Lock()

    def start(self) -> None:
        """Load the alias's version; fall back to the cached copy (degraded) if the registry is unreachable."""
        try:
            self.reload()
        except Exception as error:  # noqa: BLE001 — a registry failure or a refused model leads to the cached copy
            self.last_error = str(error)
            problem = "refused" if isinstance(error, ModelLoadError) else "unavailable"
            try:
                cached = self._load_cached()
            except ModelLoadError as refused:
                self.degraded = f"no model: registry model {problem} ({error}); cached copy refused ({refused})"
                return
            if cached is None:
                self.degraded = f"no model: registry model {problem} ({error}) and nothing cached"
                return
            self.current = cached
            self.degraded = f"serving cached version {cached.version}: registry model {problem} ({error})"

    def reload(self) -> bool:
        """Load the alias's current version if it differs from the serving one. True when a new model serves."""
        with self._lock:
            version = self.source.resolve()
            if self.current is not None and self.current.version == version and self.current.source == "registry":
                self.degraded = None
                return False
            with tempfile.TemporaryDirectory() as tmp:
                folder, info = self.source.download(version, Path(tmp))
                try:
                    model = load_checked(version, folder, self.signing)  # raises: the previous model keeps serving
                except ModelLoadError as error:
                    self.refused, self.refusals = str(error), self.refusals + 1
                    raise
                self._cache(version, folder, info)
            self.current = ServingModel(
                version,
                model,
                bool(model.meta.get("synthetic")),
                time.time(),
                "registry",
                info,
                default_explainer(model.booster),
            )
            self.degraded = None
            self.last_error = None
            self.refused = None
            return True

    def _cache(self, version: str, folder: Path, info: dict[str, Any]) -> None:
        """Keep a copy of `version` for starts without the registry. Worker processes of one service share the
        folder and load the same version at the same moment, so the copy is staged and renamed into place, and
        `latest.json` replaced whole: a process never sees (or removes) another's half-written copy."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{version}-", dir=self.cache_dir))
        try:
            shutil.copytree(folder, staging, dirs_exist_ok=True)
            (staging / "registry_info.json").write_text(json.dumps(info, ensure_ascii=False, default=str))
            target = self.cache_dir / version
            try:
                os.rename(staging, target)  # atomic; fails when the version's folder exists
            except OSError:
                retired = self.cache_dir / f".retired-{version}-{uuid.uuid4().hex}"
                with suppress(FileNotFoundError):
                    os.rename(target, retired)
                with suppress(OSError):  # another process put its complete copy in place first: keep that one
                    os.rename(staging, target)
                shutil.rmtree(retired, ignore_errors=True)
            latest = self.cache_dir / f".{_LATEST}.{uuid.uuid4().hex}"
            latest.write_text(json.dumps({"version": version}))
            os.replace(latest, self.cache_dir / _LATEST)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _load_cached(self) -> ServingModel | None:
        latest = self.cache_dir / _LATEST
        if not latest.is_file():
            return None
        version = json.loads(latest.read_text())["version"]
        folder = self.cache_dir / version
        model = load_checked(version, folder, self.signing)
        info_file = folder / "registry_info.json"
        info = json.loads(info_file.read_text()) if info_file.is_file() else {}
        synthetic = bool(model.meta.get("synthetic"))
        return ServingModel(version, model, synthetic, time.time(), "cache", info, default_explainer(model.booster))
