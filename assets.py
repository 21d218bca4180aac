"""URLs of built front-end files (static/dist/manifest.json, made by `make assets`)."""

from __future__ import annotations

import json
from pathlib import Path

from settings import BASE_DIR

DIST = BASE_DIR / "static" / "dist"


class Assets:
    """Maps a logical name (`redoc.standalone.js`) to its content-hashed URL.

    Read once at start-up; a missing build is reported when a page needs a file,
    naming the command that makes it.
    """

    def __init__(self, manifest: Path = DIST / "manifest.json") -> None:
        self.manifest: dict[str, str] = (
            json.loads(manifest.read_text()) if manifest.exists() else {}
        )

    def url(self, name: str) -> str:
        hashed = self.manifest.get(name)
        if hashed is None:
            raise LookupError(f"{name} is not built: run `make assets`")
        return f"/static/dist/{hashed}"
