"""Browser tests: the real app served by uvicorn, driven through Debian's Chromium by Playwright.

`live_server` migrates and seeds a temporary SQLite file with `manage.py`, then serves
`main:app` with uvicorn in a subprocess on a free 127.0.0.1 port. `chromium` is Playwright's
sync API with /usr/bin/chromium (nothing downloaded). `browsing` gives a test its pages: each
records console errors, uncaught exceptions and Content-Security-Policy violations, which fail
the test, and the test's last page is saved as test-artifacts/screenshots/<test>.png.

Our own fixtures rather than pytest-playwright's: its `playwright` and `browser` are
session-scoped, and between two calls Playwright's sync API leaves its event loop marked as
running in the main thread, so every async test after them in the same run would fail. Here
Playwright and the server live as long as this package's tests and stop before the others.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    WebError,
    expect,
    sync_playwright,
)

from settings import BASE_DIR, Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Seeded rows: 25 products a category (two pages of 20), 30 registrants a webinar.
SEED_PRODUCTS = 200
SEED_REGISTRANTS = 30
# Milliseconds for every action and expect(); generous, the machine is shared.
TIMEOUT = 15_000
SCREENSHOTS = Path("test-artifacts") / "screenshots"
SECRET_KEY = "browser-tests-secret-key-long-enough-and-random-ZXCVBNMqwertyuiop0987654321"

# Reports each CSP violation with the element that caused it (the console line names none).
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  const target = event.target;
  // The element's own tag and attributes, without its children.
  const element = target && target.cloneNode ? target.cloneNode(false).outerHTML : String(target);
  window.__cspViolation({
    page: location.href,
    directive: event.violatedDirective,
    blocked: event.blockedURI,
    source: `${event.sourceFile}:${event.lineNumber}:${event.columnNumber}`,
    sample: event.sample,
    element,
  });
}, true);
"""


@dataclass(frozen=True)
class LiveServer:
    url: str
    folder: Path
    media_root: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _server_env(folder: Path) -> dict[str, str]:
    # Nothing from the caller's environment that names a setting: only ours count.
    names = {name.upper() for name in Settings.model_fields}
    env = {key: value for key, value in os.environ.items() if key.upper() not in names}
    return env | {
        "ENVIRONMENT": "test",
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'browser.db'}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "MEDIA_ROOT": str(folder / "media"),
        "EMAIL_BACKEND": "memory",
        "MIGRATE_ON_STARTUP": "false",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "text",
    }


def _manage(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def _spawn_uvicorn(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-access-log"]
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}"


def _ready(process: subprocess.Popen[bytes], url: str, seconds: float = 60) -> bool:
    """Whether the server answers /health/ready before it exits or the time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app with demo data, as `make run` serves it, on a temporary SQLite file."""
    if not (BASE_DIR / "static" / "dist" / "manifest.json").exists():
        pytest.fail("static/dist is not built: run `make assets`")
    folder = tmp_path_factory.mktemp("live-server")
    env = _server_env(folder)
    log = folder / "server.log"
    # Started first, so that its imports overlap with the two commands: it needs the
    # tables only once a request comes, and none comes before they are done.
    process, url = _spawn_uvicorn(env, log)
    try:
        _manage(env, "migrate")
        _manage(
            env, "seed", "--products", str(SEED_PRODUCTS), "--registrants", str(SEED_REGISTRANTS)
        )
        for _attempt in range(3):
            if _ready(process, url):
                break
            # Most likely the port was taken between choosing and binding it: another one.
            _stop(process)
            process, url = _spawn_uvicorn(env, log)
        else:
            pytest.fail(f"uvicorn did not start:\n{log.read_text()[-3000:]}")
        yield LiveServer(url=url, folder=folder, media_root=folder / "media")
    finally:
        _stop(process)


@pytest.fixture(scope="package")
def api(live_server: LiveServer) -> Iterator[httpx.Client]:
    """The live server's JSON API: what the pages should show, asked independently."""
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make system-deps` installs Debian's chromium")
    expect.set_options(timeout=TIMEOUT)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@dataclass
class _Allowed:
    status: int
    path: re.Pattern[str]


@dataclass
class Browsing:
    """A test's browser contexts and pages, and everything they logged that is a problem."""

    browser: Browser
    server: LiveServer
    name: str
    folder: Path
    contexts: list[BrowserContext] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    allowed: list[_Allowed] = field(default_factory=list)

    def new_page(self, *, javascript: bool = True, **context_args: Any) -> Page:
        """A page in a fresh context (own cookies and storage), watched for errors."""
        context = self.browser.new_context(
            base_url=self.server.url, java_script_enabled=javascript, **context_args
        )
        context.set_default_timeout(TIMEOUT)
        context.on("console", self._on_console)
        context.on("weberror", self._on_web_error)
        if javascript:
            context.expose_binding("__cspViolation", self._on_csp_violation)
            context.add_init_script(script=CSP_LISTENER)
        self.contexts.append(context)
        page = context.new_page()
        self.pages.append(page)
        return page

    def allow_http_error(self, status: int, path: str) -> None:
        """An answer the test expects to fail: Chromium logs each one as a console error."""
        self.allowed.append(_Allowed(status, re.compile(path)))

    def screenshot(self, page: Page, step: str = "") -> Path:
        """A full-page PNG: <test>.png, or <test>--<step>.png for a step along the way."""
        name = f"{self.name}--{step}" if step else self.name
        path = self.folder / f"{name}.png"
        # animations: transitions finished, so a dropdown is shown open, not half faded in.
        # caret: Playwright hides it with a style on the focused field and leaves `style=""`
        # behind; htmx copies that attribute when it swaps the field, which the CSP refuses.
        page.screenshot(path=path, full_page=True, animations="disabled", caret="initial")
        return path

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        status = re.search(r"status of (\d{3})", message.text)
        for allowed in self.allowed:
            if status and int(status.group(1)) == allowed.status and allowed.path.search(url):
                return
        self.problems.append(
            f"console error on {message.page and message.page.url}: {message.text} ({url})"
        )

    def _on_web_error(self, error: WebError) -> None:
        page = error.page.url if error.page else "?"
        self.problems.append(f"uncaught exception on {page}: {error.error}")

    def _on_csp_violation(self, _source: Any, report: dict[str, Any]) -> None:
        self.problems.append(
            "CSP violation on {page}: {directive} blocked {blocked!r} at {source} "
            "(sample {sample!r}) by {element}".format(**report)
        )

    def close(self) -> None:
        """Save the last page as <test>.png (passed or failed), then close every context."""
        try:
            if self.pages and not self.pages[-1].is_closed():
                self.screenshot(self.pages[-1])
        finally:
            for context in self.contexts:
                context.close()


BROWSING = pytest.StashKey[Browsing]()


@pytest.fixture
def browsing(
    chromium: Browser, live_server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[Browsing]:
    folder = request.config.rootpath / SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    session = Browsing(chromium, live_server, name, folder)
    request.node.stash[BROWSING] = session
    yield session
    session.close()


# Not named `page`: pytest-playwright's fixture of that name would drag its session-scoped
# ones (and its browser parametrization) into every test that asked for ours.
@pytest.fixture
def desktop(browsing: Browsing) -> Page:
    """A desktop-sized page (1280x800) in a fresh context, with the light theme."""
    return browsing.new_page(viewport={"width": 1280, "height": 800}, color_scheme="light")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Fail a test whose pages logged errors, even when its own checks passed."""
    try:
        result = yield
    except BaseException:
        session = item.stash.get(BROWSING, None)
        if session is not None and session.problems:
            item.add_report_section("call", "browser", "\n".join(session.problems))
        raise
    session = item.stash.get(BROWSING, None)
    if session is not None and session.problems:
        pytest.fail("The pages logged errors:\n" + "\n".join(session.problems), pytrace=False)
    return result
