"""`embed`: compute the product embeddings semantic search ranks by, in batches.

Resumable: a product whose stored content hash matches its text (and the model) is
skipped, and each batch is committed, so an interrupted run picks up where it stopped
and a second run embeds nothing. `--all` embeds every product again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fastmango.db import Database
from fastmango.management.common import console, fail, load_settings, run_with_database, success
from models import Product
from services.embedding_service import EmbeddingService
from services.embeddings import Embedder, build_embedder
from settings import Settings


@dataclass
class EmbedReport:
    products: int = 0
    embedded: int = 0

    @property
    def skipped(self) -> int:
        return self.products - self.embedded


async def embed_all(
    database: Database,
    embedder: Embedder,
    *,
    force: bool = False,
    batch_size: int = 64,
    output: Console = console,
) -> EmbedReport:
    """Embed every product whose embedding is missing or stale (all with `force`)."""
    service = EmbeddingService(embedder)
    report = EmbedReport()
    progress = Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[embedded]} embedded"),
        TimeElapsedColumn(),
        console=output,
    )
    async with database.session():
        total = await Product.objects.count()
        with progress:
            task = progress.add_task("Products", total=total, embedded=0)
            last_id = 0
            while True:
                # Keyset pages: each batch is committed, so offsets would shift under us.
                page = await Product.objects.filter(id__gt=last_id).order_by("id")[:batch_size]
                if not page:
                    break
                last_id = page[-1].id or last_id
                report.products += len(page)
                report.embedded += await service.embed_products(page, force=force)
                progress.update(task, advance=len(page), embedded=report.embedded)
    return report


def command(
    all_: Annotated[
        bool, typer.Option("--all", help="Embed every product again, changed or not.")
    ] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=2048, help="Products per provider call.")
    ] = 64,
) -> None:
    """Compute product embeddings for semantic search (only new or changed products)."""
    settings = load_settings(Settings)
    embedder = build_embedder(settings)
    if not embedder.enabled:
        fail("EMBEDDING_PROVIDER is none: set it to local or openai (see example.env).")

    async def work(database: Database) -> EmbedReport:
        try:
            return await embed_all(database, embedder, force=all_, batch_size=batch_size)
        finally:
            await embedder.aclose()

    report = run_with_database(settings, work)
    success(
        f"{report.embedded} product(s) embedded with {embedder.model}, "
        f"{report.skipped} already up to date."
    )
