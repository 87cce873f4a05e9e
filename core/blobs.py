"""Content-addressed storage of uploaded originals under the data dir."""

from __future__ import annotations

import os
from pathlib import Path


class BlobStore:
    """Originals stored by sha256 with a server-generated path; the uploaded name is never a path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(exist_ok=True)

    def key_for(self, sha256: str) -> str:
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def path(self, key: str) -> Path:
        p = (self.root / key).resolve()
        if self.root.resolve() not in p.parents:
            raise ValueError("blob key escapes the store")
        return p

    def temp_path(self, name: str) -> Path:
        return self.root / "tmp" / name

    def commit(self, tmp: Path, sha256: str) -> str:
        """Move a fully written temp file into place (atomic rename; same bytes already there is fine)."""
        key = self.key_for(sha256)
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            tmp.unlink(missing_ok=True)
        else:
            os.replace(tmp, dest)
            os.chmod(dest, 0o440)
        return key
