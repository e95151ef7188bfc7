"""Secret files kept on one machine (the pseudonym key, the model-signing key): created once, owner-only.

A secret file holds one random key as text. Two processes that start at the same moment must not both write
one (the second would silently replace the first's key), so the file is created with O_EXCL and the loser reads
the winner's file. The folder is 0700 and the file 0600: nobody but the service's own user reads them.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def create_secret_file(path: Path) -> bool:
    """Write a new random key to `path` unless it exists; True when this call created it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return True
