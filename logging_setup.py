"""Logging for the app and the command line; readable lines in development."""

from __future__ import annotations

import logging

from settings import Settings


def configure_logging(settings: Settings) -> None:
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    root = logging.getLogger()
    if not any(getattr(h, "_fastmango", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._fastmango = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
