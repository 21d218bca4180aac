"""Django's `prepopulated_fields`, done on the server: an empty slug is made from its sources."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import inspect as sa_inspect


def slugify(value: Any, allow_unicode: bool = False) -> str:
    """django.utils.text.slugify: ASCII letters, digits, underscores and hyphens, lowercased."""
    text = str(value)
    if allow_unicode:
        text = unicodedata.normalize("NFKC", text)
    else:
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text.lower())
    return re.sub(r"[-\s]+", "-", text).strip("-_")


def prepopulate(fields: Mapping[str, Sequence[str]], data: dict[str, Any], row: Any) -> None:
    """Fill each empty target in `data` from its source fields (the submitted or saved ones)."""
    columns = sa_inspect(type(row)).columns
    for target, sources in fields.items():
        if data.get(target) or (target not in data and getattr(row, target, None)):
            continue
        words = (data[name] if name in data else getattr(row, name, None) for name in sources)
        slug = slugify(" ".join(str(word) for word in words if word not in (None, "")))
        length = getattr(columns[target].type, "length", None)
        if slug:
            data[target] = slug[:length].rstrip("-") if length else slug
