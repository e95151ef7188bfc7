"""Each source table's row → household matching and per-household row digests, kept between runs.

A monthly re-score reads the same department tables again, most of them unchanged. Matching every row to its
household (`pyarrow.compute.index_in` over 19 M member-status rows and 20 M other rows) and hashing every row
(`features.reading.row_digests`) took ≈ 15 CPU-seconds of a 1 M-household re-run. Both are functions of bytes on
disk: a table's file, the households file (row positions index into it) and, for member_status, the members
file. `RowOwnerCache` keeps them under a key made of those files' BLAKE2b digests (and the table's name and
this module's format version), so an unchanged file is matched and hashed once. A file whose bytes differ —
even one re-exported with the same rows — is simply computed again. The newest `keep` entries are kept; an
entry that cannot be read is computed again and replaced.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

import numpy as np

# Change with features.reading.row_digests or the matching in features.reading.partitions.
FORMAT: Final = "row-owner-cache/1"


class RowOwnerCache:
    """(row owners, household digests) per table of one source folder, stored under `folder`."""

    def __init__(self, folder: Path, files: dict[str, Path], keep: int = 64) -> None:
        self.folder = folder
        self.files = files
        self.keep = keep
        # Every file is hashed on a thread from now on (hashlib releases the GIL), households and members first,
        # while the caller reads them.
        order = sorted(files, key=lambda n: (n != "households", n != "members", n))
        pool = ThreadPoolExecutor(1, thread_name_prefix="file-digests")
        self._file_digests = {name: pool.submit(_file_digest, files[name]) for name in order}
        pool.shutdown(wait=False)

    def get(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The table's row owners (household row, −1: none) and household digests, if kept."""
        stem = self._stem(name)
        if stem is None or not _digests(stem).is_file():
            return None
        try:  # memory-mapped: the page cache holds the bytes, the copies below are all the reading there is
            owner = np.load(_owner(stem), mmap_mode="r").astype(np.int64)
            digests = np.array(np.load(_digests(stem), mmap_mode="r"), dtype=np.uint64)
        except (OSError, ValueError):
            _owner(stem).unlink(missing_ok=True)
            _digests(stem).unlink(missing_ok=True)
            return None
        os.utime(_digests(stem))  # newest use last to go
        return owner, digests

    def put(self, name: str, owner: np.ndarray, digests: np.ndarray) -> None:
        stem = self._stem(name)
        if stem is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        small = owner.astype(np.int32) if len(digests) < np.iinfo(np.int32).max else owner
        for path, values in ((_owner(stem), small), (_digests(stem), digests)):  # digests last: they mark it whole
            with tempfile.NamedTemporaryFile(dir=self.folder, suffix=".partial", delete=False) as sink:
                np.save(sink, values)
            os.replace(sink.name, path)
        entries = sorted(self.folder.glob("*.digests.npy"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[self.keep :]:
            old.unlink(missing_ok=True)
            old.with_name(old.name.replace(".digests.npy", ".owner.npy")).unlink(missing_ok=True)

    def _stem(self, name: str) -> Path | None:
        needs = [name, "households", *(["members"] if name == "member_status" else [])]
        if any(n not in self.files for n in needs):
            return None
        key = hashlib.blake2b(digest_size=16)
        key.update(FORMAT.encode())
        for n in needs:
            key.update(f"\x1f{n}\x1f{self._digest(n)}".encode())
        return self.folder / f"{name}-{key.hexdigest()}"

    def _digest(self, name: str) -> str:
        return self._file_digests[name].result()


def _file_digest(path: Path) -> str:
    with path.open("rb") as source:
        return hashlib.file_digest(source, "blake2b").hexdigest()


def _owner(stem: Path) -> Path:
    return stem.with_name(stem.name + ".owner.npy")


def _digests(stem: Path) -> Path:
    return stem.with_name(stem.name + ".digests.npy")
