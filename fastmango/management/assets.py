"""`assets [--watch]`: build the front end into static/dist, as `make assets` does.

Runs fastmango's `web/build-assets.mjs` with Node from the project's folder (it reads
templates/, static/ and node_modules/ there).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from fastmango.management.common import fail, load_settings

BUILD_SCRIPT = Path(__file__).resolve().parent.parent / "web" / "build-assets.mjs"


def assets(
    watch: Annotated[
        bool, typer.Option("--watch", help="Rebuild when a template, style or script changes.")
    ] = False,
) -> None:
    """Build the front end into static/dist (node fastmango/web/build-assets.mjs)."""
    root = load_settings().base_dir
    node = shutil.which("node")
    if node is None:
        fail(
            "Node.js is not installed or not on PATH: install Node 20 or newer "
            "(https://nodejs.org, or `sudo apt-get install nodejs npm`), then run "
            "`npm install --no-save` in the project."
        )
    if not (root / "node_modules").is_dir():
        fail(
            f"{root / 'node_modules'} is missing: run `npm install --no-save` in {root} "
            "first (it installs the locked versions)."
        )
    command = [node, str(BUILD_SCRIPT), *(["--watch"] if watch else [])]
    try:
        code = subprocess.run(command, cwd=root, check=False).returncode  # noqa: S603 (our script)
    except KeyboardInterrupt:
        code = 0 if watch else 130  # Ctrl-C is how --watch ends
    if code:
        raise typer.Exit(code=code)
