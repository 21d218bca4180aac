"""Security headers on every response, the CSP areas, HSTS, the HTTPS redirect, unknown hosts."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fastmango.web.request_guard import HostCheckMiddleware
from fastmango.web.security_headers import build_policy, media_origin
from main import create_app
from settings import Settings
from tests.servers import (
    ROOT,
    SERVER_SECRET_KEY,
    Server,
    free_port,
    manage_command,
    running,
    server_env,
)
from tests.utils import serve

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
    "object-src 'none'"
)
COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


def assert_secured(response: httpx.Response, policy: str = POLICY) -> None:
    for name, value in COMMON.items():
        assert response.headers[name] == value, (response.url, name)
    assert "camera=()" in response.headers["permissions-policy"]
    assert response.headers["content-security-policy"] == policy, response.url
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


@sqlite_only
async def test_every_kind_of_response_is_secured(app: FastAPI, client: httpx.AsyncClient) -> None:
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    responses = [
        await client.get("/"),
        await client.get("/api/v1/products"),
        await client.get("/static/favicon.svg"),
        await client.get("/no-such-page"),
        await client.post("/api/v1/products", json={}),  # 401
        await client.post("/login", data={}),  # 403: no CSRF token
        await client.get("/boom"),
        await client.get("/health"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 404, 401, 403, 500, 200]
    for response in responses:
        assert_secured(response)
    assert "strict-transport-security" not in responses[0].headers  # off by default
    assert "Something went wrong" in responses[6].text


@sqlite_only
async def test_docs_pages_need_no_inline_code(client: httpx.AsyncClient) -> None:
    swagger = await client.get("/docs")
    assert_secured(swagger)
    assert "<style" not in swagger.text
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", swagger.text))

    first, second = await client.get("/redoc"), await client.get("/redoc")
    nonces = []
    for page in (first, second):
        policy = page.headers["content-security-policy"]
        nonce = re.search(r"'nonce-([\w-]+)'", policy)
        assert nonce, policy
        nonces.append(nonce.group(1))
        # ReDoc's area: its nonce for styles, a blob: worker for search, nothing else wider.
        assert policy.startswith("default-src 'self'; script-src 'self'; style-src 'self' 'nonce-")
        assert "worker-src blob:" in policy
        assert "img-src 'self' data:;" in policy  # not even ReDoc's logo from its CDN
        assert "'unsafe-inline'" not in policy
        assert "'unsafe-eval'" not in policy
        assert page.text.count(f'nonce="{nonce.group(1)}"') == 2  # init script and style
        assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", page.text))
    assert nonces[0] != nonces[1]


@sqlite_only
async def test_admin_gets_the_strict_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/")  # anonymous: a redirect, still secured
    assert response.status_code == 303
    assert_secured(response)


@sqlite_only
async def test_s3_media_origin_joins_img_src(settings: Settings) -> None:
    assert media_origin(settings) is None
    s3 = settings.model_copy(
        update={
            "storage_backend": "s3",
            "s3_bucket": "shop",
            "s3_public_url": "https://cdn.example.com/media/",
        }
    )
    assert media_origin(s3) == "https://cdn.example.com"
    assert "img-src 'self' data: https://cdn.example.com;" in build_policy(s3)
    aws = s3.model_copy(update={"s3_public_url": None, "s3_endpoint_url": None})
    assert media_origin(aws) == "https://shop.s3.us-east-1.amazonaws.com"


@sqlite_only
async def test_hsts_and_https_redirect(settings: Settings) -> None:
    secure = settings.model_copy(
        update={
            "secure_ssl_redirect": True,
            "secure_hsts_seconds": 31536000,
            "secure_hsts_include_subdomains": True,
            "secure_hsts_preload": True,
        }
    )
    async with serve(create_app(secure)) as plain:
        redirected = await plain.get("/products?page=2")
        assert redirected.status_code == 301
        assert redirected.headers["location"] == "https://testserver/products?page=2"
        assert "strict-transport-security" not in redirected.headers  # not over HTTP
        assert_secured(redirected, POLICY + "; upgrade-insecure-requests")
        # Probes answer over plain HTTP: platforms call them on the machine's address.
        assert (await plain.get("/health/ready")).status_code == 200
    async with serve(create_app(secure), "https://testserver") as https:
        page = await https.get("/")
        assert page.status_code == 200
        assert page.headers["strict-transport-security"] == (
            "max-age=31536000; includeSubDomains; preload"
        )


@sqlite_only
async def test_unknown_hosts_get_400_in_production(settings: Settings) -> None:
    production = settings.model_copy(
        update={"environment": "production", "allowed_hosts": ["testserver", ".example.com"]}
    )
    async with serve(create_app(production)) as client:
        assert (await client.get("/")).status_code == 200
        assert (await client.get("/", headers={"Host": "shop.example.com"})).status_code == 200
        refused = await client.get("/", headers={"Host": "evil.example.org"})
        assert refused.status_code == 400
        assert_secured(refused)
        probe = await client.get("/health/ready", headers={"Host": "10.0.0.7:8080"})
        assert probe.status_code == 200


def test_host_matching() -> None:
    check = HostCheckMiddleware(app=None, allowed_hosts=["shop.example.com", ".example.org"])  # type: ignore[arg-type]
    assert check.allowed("shop.example.com")
    assert check.allowed("SHOP.example.com:443")
    assert check.allowed("example.org")
    assert check.allowed("a.b.example.org:8000")
    assert not check.allowed("evil.com")
    assert not check.allowed("shop.example.com.evil.com")
    assert not check.allowed("badexample.org")
    assert not check.allowed("")
    ipv6 = HostCheckMiddleware(app=None, allowed_hosts=["[::1]"])  # type: ignore[arg-type]
    assert ipv6.allowed("[::1]:8000")
    assert ipv6.allowed("[::1]")
    starlette_style = HostCheckMiddleware(app=None, allowed_hosts=["*.example.net"])  # type: ignore[arg-type]
    assert starlette_style.allowed("a.example.net")
    assert not starlette_style.allowed("example.org")
    assert HostCheckMiddleware(app=None, allowed_hosts=["*"]).allowed("anything")  # type: ignore[arg-type]


# -- in a real browser -------------------------------------------------------------------

ADMIN_EMAIL = "csp-admin@example.com"
ADMIN_PASSWORD = "a-long-superuser-passphrase-7"
WATCH_CSP = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app under the development server, migrated, with a superuser and a product."""
    folder = tmp_path_factory.mktemp("csp")
    port = free_port()
    env = server_env(
        ENVIRONMENT="development",
        SECRET_KEY=SERVER_SECRET_KEY,
        DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'app.db'}",
        MEDIA_ROOT=str(folder / "media"),
        EMAIL_BACKEND="memory",
        SUPERUSER_EMAIL=ADMIN_EMAIL,
        SUPERUSER_PASSWORD=ADMIN_PASSWORD,
        LOG_LEVEL="WARNING",
    )
    subprocess.run(manage_command("prestart"), cwd=ROOT, env=env, check=True, capture_output=True)
    command = manage_command("runserver", "--port", str(port))
    with running(command, env, folder / "server.log", port=port) as server:
        token = httpx.post(
            f"{server.url}/api/v1/auth/token",
            data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        ).json()["access_token"]
        product = {"name": "CSP lamp", "price": "12.50", "category": "Lighting"}
        created = httpx.post(
            f"{server.url}/api/v1/products",
            json=product,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
        yield server


@pytest.mark.slow
def test_pages_docs_and_admin_render_without_csp_violations(site: Server) -> None:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic"],
        )
        try:
            page = browser.new_page(base_url=site.url)
            page.set_default_timeout(15_000)
            page.add_init_script(WATCH_CSP)

            def watch(message: Any) -> None:
                text = message.text
                if "cdn.redoc.ly" in text:
                    # ReDoc's bundle always asks for its logo from its CDN; refusing it is
                    # the point (no request leaves the site), and ReDoc hides the image.
                    return
                if "CSP violation" in text or "Content Security Policy" in text:
                    problems.append(f"{page.url}: {text}")

            page.on("console", watch)
            page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))

            page.goto("/")
            page.goto("/docs")
            page.wait_for_selector(".swagger-ui .info .title")
            page.get_by_text("GET", exact=True).first.click()  # open an operation
            page.goto("/redoc")
            page.wait_for_selector("h1")
            page.fill("input[placeholder='Search...']", "product")  # the blob: worker
            page.wait_for_selector("[data-role='search:results']")

            page.goto("/login?next=/admin/product/list")
            page.fill("input[name=email]", ADMIN_EMAIL)
            page.fill("input[name=password]", ADMIN_PASSWORD)
            page.press("input[name=password]", "Enter")
            page.wait_for_url("**/admin/product/list")
            page.locator("input.select-box").first.check()
            page.get_by_text("Actions").click()
            page.get_by_text("Mark as in stock").click()  # answers with a flash toast
            page.wait_for_selector(".toast.admin-toast.show")
            page.locator("input.select-box").first.check()
            page.get_by_text("Actions").click()
            page.locator("#action-delete").click()  # a Bootstrap modal
            page.wait_for_selector("#modal-delete.show")
            for path in ("/admin/product/create", "/admin/webinar/create", "/admin/user/list"):
                page.goto(path)
                page.wait_for_selector("form, table")
            page.wait_for_timeout(300)  # late violations (reports are asynchronous)
        finally:
            browser.close()
    assert problems == []
