"""The client's address behind proxies: only hops added by trusted proxies are believed, so
per-IP login throttling cannot be dodged by writing a fresh X-Forwarded-For first hop."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from fastmango.accounts.throttle import MAX_FAILURES
from fastmango.checks import deploy_checks
from fastmango.web.request_guard import ProxyHeadersMiddleware
from settings import Settings
from tests.servers import (
    ROOT,
    Server,
    free_port,
    manage_command,
    running,
    sqlite_server_env,
)


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that answers with the client address and scheme it was given."""
    body = f"{scope['client'][0]} {scope['scheme']}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def seen(
    trusted: list[str], peer: str, headers: dict[str, str], client_header: str | None = None
) -> str:
    app = ProxyHeadersMiddleware(echo, trusted=trusted, client_header=client_header)
    transport = httpx.ASGITransport(app=app, client=(peer, 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return (await client.get("/", headers=headers)).text


SPOOFED = "6.6.6.6"  # what a client writes into X-Forwarded-For itself
CLIENT = "203.0.113.9"  # what the trusted proxy appended


@pytest.mark.parametrize(
    ("trusted", "peer", "headers", "expected"),
    [
        (["127.0.0.1"], "127.0.0.1", {"X-Forwarded-For": f"{SPOOFED}, {CLIENT}"}, CLIENT),
        # `*`: only the peer is known to be a proxy, so only its hop (the right-most) counts.
        (["*"], "10.9.8.7", {"X-Forwarded-For": f"{SPOOFED}, {CLIENT}"}, CLIENT),
        # Two trusted proxies: skip both hops from the right.
        (
            ["127.0.0.1", "10.0.0.0/8"],
            "127.0.0.1",
            {"X-Forwarded-For": f"{SPOOFED}, {CLIENT}, 10.1.2.3"},
            CLIENT,
        ),
        (["127.0.0.1"], "127.0.0.1", {"X-Forwarded-For": "[2001:db8::7]:443"}, "2001:db8::7"),
        (["127.0.0.1"], "127.0.0.1", {"X-Forwarded-For": f"{CLIENT}:5678"}, CLIENT),
        # Not from a trusted proxy: the headers are the client's own words.
        (["127.0.0.1"], "192.0.2.1", {"X-Forwarded-For": CLIENT}, "192.0.2.1"),
        # Garbage where the proxy writes: believe nothing.
        (["127.0.0.1"], "127.0.0.1", {"X-Forwarded-For": f"{CLIENT}, not-an-ip"}, "127.0.0.1"),
        # Every hop a trusted proxy: the first one is the client.
        (["10.0.0.0/8", "127.0.0.1"], "127.0.0.1", {"X-Forwarded-For": "10.0.0.5"}, "10.0.0.5"),
    ],
)
async def test_the_client_is_the_last_hop_a_trusted_proxy_added(
    trusted: list[str], peer: str, headers: dict[str, str], expected: str
) -> None:
    assert (await seen(trusted, peer, headers)).split()[0] == expected


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        # Fly.io: the proxy sets Fly-Client-IP; X-Forwarded-For's last hop is the app's IP.
        (
            "172.19.2.97",
            {"Fly-Client-IP": CLIENT, "X-Forwarded-For": f"{CLIENT}, 66.241.124.1"},
            CLIENT,
        ),
        ("172.19.2.97", {"Fly-Client-IP": "nonsense", "X-Forwarded-For": CLIENT}, CLIENT),
        # From outside the proxy network the header is the client's own claim.
        ("198.51.100.1", {"Fly-Client-IP": CLIENT}, "198.51.100.1"),
    ],
)
async def test_a_platform_client_header_from_trusted_proxies(
    peer: str, headers: dict[str, str], expected: str
) -> None:
    address = await seen(["172.16.0.0/12"], peer, headers, client_header="Fly-Client-IP")
    assert address.split()[0] == expected


async def test_the_scheme_comes_from_trusted_proxies_only() -> None:
    assert await seen(["127.0.0.1"], "127.0.0.1", {"X-Forwarded-Proto": "https"}) == (
        "127.0.0.1 https"
    )
    assert await seen(["127.0.0.1"], "127.0.0.1", {"X-Forwarded-Proto": "https, http"}) == (
        "127.0.0.1 http"  # the right-most: what the trusted proxy saw
    )
    assert await seen(["127.0.0.1"], "192.0.2.1", {"X-Forwarded-Proto": "https"}) == (
        "192.0.2.1 http"
    )


def test_check_deploy_warns_about_trusting_everyone() -> None:
    star = Settings(_env_file=None, forwarded_allow_ips="*")
    assert "security.W023" in {m.id for m in deploy_checks(star)}
    listed = Settings(_env_file=None, forwarded_allow_ips="172.16.0.0/12")
    assert "security.W023" not in {m.id for m in deploy_checks(listed)}


def test_fly_toml_trusts_fly_proxy_and_reads_fly_client_ip() -> None:
    fly_env = tomllib.loads((ROOT / "fly.toml").read_text())["env"]
    settings = Settings(_env_file=None, **{key.lower(): value for key, value in fly_env.items()})
    assert settings.forwarded_allow_ips == ["172.16.0.0/12"]
    assert settings.client_ip_header == "Fly-Client-IP"
    assert "security.W023" not in {m.id for m in deploy_checks(settings)}


def test_forwarded_allow_ips_must_be_addresses() -> None:
    with pytest.raises(ValueError, match="not an IP address or network"):
        Settings(_env_file=None, forwarded_allow_ips="proxy.internal")


# -- a real server told to trust every peer (`*`) ----------------------------------------


@pytest.fixture(scope="module", params=["runserver --prod", "uvicorn main:app"])
def trusting_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("trusting")
    port = free_port()
    env = sqlite_server_env(
        folder,
        port,
        # Read by uvicorn's own CLI too (its --forwarded-allow-ips default).
        FORWARDED_ALLOW_IPS="*",
        LOG_FORMAT="json",
    )
    if request.param == "uvicorn main:app":
        command = [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port)]
    else:
        command = manage_command("runserver", "--prod", "--host", "127.0.0.1")
    with running(command, env, Path(folder) / "server.log", port=port) as server:
        yield server


@pytest.mark.slow
async def test_a_fresh_first_hop_per_request_does_not_dodge_login_throttling(
    trusting_server: Server,
) -> None:
    """The reported bypass: with `*`, uvicorn made each spoofed first hop the client."""
    statuses = []
    async with httpx.AsyncClient(base_url=trusting_server.url) as client:
        for n in range(MAX_FAILURES + 1):
            response = await client.post(
                "/api/v1/auth/token",
                json={"email": f"victim{n}@example.com", "password": "wrong-password-1"},
                headers={"X-Forwarded-For": f"198.51.100.{n + 1}, {CLIENT}"},
            )
            statuses.append(response.status_code)
    assert statuses == [401] * MAX_FAILURES + [429]
