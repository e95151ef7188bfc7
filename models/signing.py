"""Signed model files: a model's files are parsed only after their digests and an HMAC over them check out.

Training writes `manifest.json` beside the model's files: the SHA-256 digest of each file in `FILES` (and of
its identification companion's, `identification/…`, when it has one) and an HMAC-SHA256 of that list under the
operator's model-signing key (`RELAPSE_MODEL_SIGNING_KEY`, or the local key file
`<data_dir>/secrets/model-signing.key`, created 0600 on first training). The service checks the manifest before
LightGBM reads a byte of `booster.txt`:

- no manifest, or a manifest without a signature: refused as unsigned;
- a signature that does not match under the service's key: refused as signed by another key (or tampered);
- a file whose digest differs from the manifest (a truncated or edited booster, a changed calibrator): refused,
  naming the file.

A refused model is never parsed, so a truncated booster cannot crash the process, and a model edited after
training (leaf signs flipped, a calibration slope negated) cannot serve. The trust boundary is the key: whoever
holds it can sign a model; whoever can only write the registry, the model cache or the data folder cannot.
`RiskModel.load` itself does not check signatures, so that plain MLflow clients can still load a registered model.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pydantic import SecretStr

from features.secret_files import create_secret_file
from models.risk_model import COMPANION, FILES

MANIFEST: Final = "manifest.json"
ALGORITHM: Final = "hmac-sha256"
MIN_KEY_CHARS: Final = 32


class ModelIntegrityError(ValueError):
    """A model's files are unsigned, signed with another key, or not the files that were signed."""


@dataclass(frozen=True)
class SigningKey:
    """The model-signing secret; `origin` says where it came from (never the secret itself)."""

    secret: bytes = field(repr=False)
    origin: str

    @classmethod
    def from_text(cls, text: str, origin: str) -> SigningKey:
        text = text.strip()
        if len(text) < MIN_KEY_CHARS:
            raise ModelIntegrityError(
                f"model-signing key from {origin} is too short ({len(text)} characters, need {MIN_KEY_CHARS})"
            )
        return cls(text.encode("utf-8"), origin)


def key_file(data_dir: Path) -> Path:
    """The local key file of a data folder (used when no key is configured)."""
    return Path(data_dir) / "secrets" / "model-signing.key"


def signing_key(data_dir: Path, configured: SecretStr | None = None, *, create: bool = False) -> SigningKey:
    """The configured key (`RELAPSE_MODEL_SIGNING_KEY`), else the data folder's key file, created (0600) when
    `create` is set — training creates it, the service only reads it. Raises if there is none."""
    if configured is not None:
        return SigningKey.from_text(configured.get_secret_value(), "RELAPSE_MODEL_SIGNING_KEY")
    path = key_file(data_dir)
    if create:
        create_secret_file(path)
    if path.is_file():
        return SigningKey.from_text(path.read_text(encoding="utf-8"), str(path))
    raise ModelIntegrityError(
        f"no model-signing key: set RELAPSE_MODEL_SIGNING_KEY or copy the trainer's {path.name} to {path}"
    )


def model_files(folder: Path) -> tuple[str, ...]:
    """The model's files, relative to `folder`: its own and, when it has one, its companion's."""
    companion = tuple(f"{COMPANION}/{name}" for name in FILES) if (Path(folder) / COMPANION).is_dir() else ()
    return (*FILES, *companion)


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of each model file present in `folder`, by file name (a companion's prefixed with its folder)."""
    return {name: _sha256(folder / name) for name in model_files(folder) if (folder / name).is_file()}


def sign_folder(folder: Path, key: SigningKey) -> Path:
    """Write `manifest.json` for the model files in `folder`; returns its path."""
    files = digests(folder)
    manifest = {"algorithm": ALGORITHM, "files": files, "signature": _signature(files, key)}
    path = Path(folder) / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def verify_folder(folder: Path, key: SigningKey) -> None:
    """Raise `ModelIntegrityError` naming the problem unless every model file is the one signed with `key`."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ModelIntegrityError("the model is unsigned (no manifest.json)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files, signature = dict(manifest["files"]), str(manifest["signature"])
    except (ValueError, KeyError, TypeError) as error:
        raise ModelIntegrityError(f"the model's manifest.json cannot be read ({type(error).__name__})") from None
    if manifest.get("algorithm") != ALGORITHM:
        raise ModelIntegrityError(f"the model's manifest uses {manifest.get('algorithm')!r}, expected {ALGORITHM}")
    if not hmac.compare_digest(signature, _signature(files, key)):
        raise ModelIntegrityError("the model's signature does not match this service's model-signing key")
    # A companion the manifest does not name was added after signing; one it names but lacks, removed.
    expected = set(model_files(folder)) | {name for name in files if name.startswith(f"{COMPANION}/")}
    unsigned = sorted(expected - set(files))
    if unsigned:
        raise ModelIntegrityError(f"the model's manifest does not cover {', '.join(unsigned)}")
    for name in sorted(expected):
        if not (Path(folder) / name).is_file():
            raise ModelIntegrityError(f"the model lacks {name}")
        if not hmac.compare_digest(_sha256(Path(folder) / name), str(files[name])):
            raise ModelIntegrityError(f"{name} is not the file that was signed (its digest differs)")


def _signature(files: dict[str, str], key: SigningKey) -> str:
    payload = json.dumps({"algorithm": ALGORITHM, "files": files}, sort_keys=True).encode("utf-8")
    return hmac.new(key.secret, payload, hashlib.sha256).hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
