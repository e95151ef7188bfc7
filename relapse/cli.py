"""The `relapse` command line: one Typer app composed of one command module per area.

This package is the top layer: it may import every other package; nothing imports it.
Heavy imports happen inside the commands so that `relapse --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from relapse import (
    backup_command,
    data_commands,
    demo_command,
    doctor_command,
    explain_command,
    features_command,
    keys_command,
    monitor_command,
    purge_command,
    report_command,
    score_command,
    serve_command,
    simulate_command,
    spec_command,
    train_commands,
    tune_command,
    visits_command,
)

DEBUG_ENV = "RELAPSE_DEBUG"


class _App(typer.Typer):
    """The app, run as a program: files it writes are its user's only, and a user's mistake (bad data, a bad spec,
    a missing file, a weak key) is one line naming what and where, with exit code 2; the traceback only with
    `--debug` (or RELAPSE_DEBUG=1)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Everything the commands write under the data directory (the database, keys, model and explanation
        # caches, jobs, reports) can hold personal data: readable by the service's own user only.
        os.umask(0o077)
        _private_numba_cache()
        try:
            return super().__call__(*args, **kwargs)
        except _user_errors() as error:
            if os.environ.get(DEBUG_ENV) == "1" or "--debug" in sys.argv[1:]:
                raise
            print(f"relapse: {_one_line(error)}  (--debug shows the traceback)", file=sys.stderr)  # noqa: T201
            raise SystemExit(2) from None
        except Exception as error:
            if not _names_a_missing_entry(error) or os.environ.get(DEBUG_ENV) == "1" or "--debug" in sys.argv[1:]:
                raise
            print(f"relapse: {_one_line(error)}  (--debug shows the traceback)", file=sys.stderr)  # noqa: T201
            raise SystemExit(2) from None


def _private_numba_cache() -> None:
    """Numba's compiled kernels (models.treeshap, models._forest_margin) are cached in the data folder, in a
    directory only this user can read or write (0700), instead of beside the package's source files: the cache
    is loaded into the process at every start, so it must be as trusted as the process itself. An operator's
    own NUMBA_CACHE_DIR is kept."""
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    from features.settings import get_settings

    folder = get_settings().data_dir / "numba-cache"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    except OSError:  # a read-only data folder: numba then compiles in memory, as without a cache
        return
    os.environ["NUMBA_CACHE_DIR"] = str(folder.resolve())


def _user_errors() -> tuple[type[BaseException], ...]:
    """What a user's input can cause; anything else is a defect and keeps its traceback."""
    from features.contract.monitoring_lines import MissingYearError
    from features.errors import FeaturesError
    from features.profiles.build import ProfileError
    from features.profiles.spec import FeatureSpecError
    from models.risk_model import ModelSpecError
    from models.signing import ModelIntegrityError
    from relapse._backup import BackupError
    from service.database_backup import DatabaseBackupError
    from service.errors import InvalidFieldError
    from training.cross_validation import CrossValidationError
    from training.labels import LabelWindowError
    from training.registry_archive import RegistryArchiveError

    return (
        FeaturesError,
        MissingYearError,
        FeatureSpecError,
        ProfileError,
        ModelSpecError,
        ModelIntegrityError,
        InvalidFieldError,
        LabelWindowError,
        BackupError,
        DatabaseBackupError,
        RegistryArchiveError,
        CrossValidationError,
        OSError,
    )


def _names_a_missing_entry(error: Exception) -> bool:
    """A registry error about a model or version that does not exist (`--version 99`): the user's mistake, where
    any other MLflow error (a store that cannot be reached, a broken artifact) keeps its traceback."""
    if "mlflow" not in sys.modules:
        return False
    from mlflow.exceptions import MlflowException

    return isinstance(error, MlflowException) and error.error_code == "RESOURCE_DOES_NOT_EXIST"


def _one_line(error: BaseException) -> str:
    from features.errors import SourceDataError

    lines = str(error).strip().splitlines() or [type(error).__name__]
    if isinstance(error, SourceDataError):
        return f"{lines[0]}; `relapse validate DIR` lists every violation with its row"
    return lines[0]


app = _App(
    name="relapse",
    help="relapse-risk: predict, explain and act on the risk of (re)entering poverty.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

demo_command.register(app)
simulate_command.register(app)
data_commands.register(app)
features_command.register(app)
spec_command.register(app)
train_commands.register(app)
monitor_command.register(app)
tune_command.register(app)
keys_command.register(app)
explain_command.register(app)
score_command.register(app)
report_command.register(app)
serve_command.register(app)
doctor_command.register(app)
visits_command.register(app)
backup_command.register(app)
purge_command.register(app)


@app.callback()
def _quiet_libraries(
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of an error.")] = False,
) -> None:
    """MLflow and friends log at INFO by default; the CLI shows its own progress instead."""
    import warnings

    if debug:
        os.environ[DEBUG_ENV] = "1"
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read by MLflow when it is first imported
    warnings.filterwarnings("ignore", module="mlflow")


if __name__ == "__main__":  # pragma: no cover
    app()
