"""CSV export of any QuerySet, streamed in pages so a large table never sits in memory."""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from fastmango.orm import Model, QuerySet

BATCH = 500
# A cell starting with one of these is run as a formula by spreadsheet apps (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


async def csv_rows(qs: QuerySet[Any], columns: Sequence[str]) -> AsyncIterator[str]:
    """The header, then the rows in primary-key order, fetched BATCH at a time (keyset paging)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: Sequence[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(list(columns))
    last = 0
    while True:
        batch: list[Model] = await qs.filter(id__gt=last).order_by("id")[:BATCH]
        for row in batch:
            yield line([cell(getattr(row, name)) for name in columns])
        if len(batch) < BATCH:
            return
        last = batch[-1].id  # type: ignore[attr-defined]
