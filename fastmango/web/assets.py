"""URLs of built front-end files (static/dist/manifest.json, made by `make assets`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

logger = logging.getLogger("fastmango.assets")


class Assets:
    """Maps a logical name (`app.css`) to its content-hashed URL.

    Read once at start-up. With `reload` (DEBUG, alongside `make assets-watch`) the manifest
    is read again when its modification time changes. A missing build is reported when a
    page needs a file, naming the command that makes it.
    """

    def __init__(self, manifest: Path, *, reload: bool = False) -> None:
        self.path = manifest
        self.reload = reload
        self.mtime = 0.0
        self.manifest: dict[str, str] = {}
        self.warned: set[str] = set()
        self._load()

    def _load(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
            if mtime != self.mtime:
                self.manifest = json.loads(self.path.read_text())
                self.mtime = mtime
        except (FileNotFoundError, json.JSONDecodeError):
            # A build in progress (or none yet): keep what we had.
            pass

    def url(self, name: str) -> str:
        if self.reload:
            # Development only: one stat() per asset URL, to follow the watcher's rebuilds.
            self._load()
        hashed = self.manifest.get(name)
        if hashed is None:
            # Not built yet: the page still renders (unstyled) and says how to build,
            # see `missing`; never a 500 for a missing front-end file.
            if name not in self.warned:
                self.warned.add(name)
                logger.warning("%s is not built: run `make assets`", name)
            return f"/static/dist/{name}"
        return f"/static/dist/{hashed}"

    def missing(self) -> bool:
        """No build found (templates show how to make one)."""
        if self.reload:
            self._load()
        return not self.manifest
