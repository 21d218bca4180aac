"""A real S3-compatible server for tests: moto in server mode, over HTTP on 127.0.0.1.

Use it from a test module with `from tests.s3server import s3_server` (pytest finds fixtures in
a module's globals), then ask for `s3_server` in a test or fixture:

    settings = make_settings(url, **s3_server.settings())    # an app on the S3 backend
    storage = s3_server.storage()                            # or the backend on its own

One server and one bucket serve the whole run; stored names are unique, so tests do not collide.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aioboto3
import httpx
import pytest
from pydantic import SecretStr

from fastmango.storage import S3Storage

BUCKET = "fastmango-test"
REGION = "us-east-1"
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket: str = BUCKET
    region: str = REGION
    # moto accepts any credentials; these only have to be present.
    access_key_id: str = "testing"
    secret_access_key: str = "testing"

    def settings(self) -> dict[str, Any]:
        """Overrides for `make_settings(...)` selecting this server as the storage backend."""
        return {
            "storage_backend": "s3",
            "s3_bucket": self.bucket,
            "s3_endpoint_url": self.endpoint_url,
            "s3_region": self.region,
            "s3_access_key_id": self.access_key_id,
            "s3_secret_access_key": self.secret_access_key,
        }

    def storage(self) -> S3Storage:
        """A fresh backend on this server (call `close()` when done, in the same event loop)."""
        return S3Storage(
            bucket=self.bucket,
            region=self.region,
            endpoint_url=self.endpoint_url,
            access_key_id=self.access_key_id,
            secret_access_key=SecretStr(self.secret_access_key),
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_up(process: subprocess.Popen[bytes], endpoint: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"moto_server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(endpoint, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    process.wait(timeout=10)
    pytest.fail(f"moto_server did not answer within {START_TIMEOUT:.0f}s:\n{log.read_text()}")


async def _create_bucket(server: S3Server) -> None:
    session = aioboto3.Session()
    async with session.client(
        "s3",
        region_name=server.region,
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
    ) as s3:
        await s3.create_bucket(Bucket=server.bucket)
        # Public reads, as a deployment needs for `url()` links (see S3Storage); writes still
        # need the credentials.
        public_read = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{server.bucket}/*",
                }
            ],
        }
        await s3.put_bucket_policy(Bucket=server.bucket, Policy=json.dumps(public_read))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto_server started once per run on a free port, with the test bucket created."""
    binary = Path(sys.executable).parent / "moto_server"
    if not binary.exists():
        pytest.fail("moto_server is missing: install the dev extras (moto[server])")
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(binary), "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = S3Server(endpoint_url=f"http://127.0.0.1:{port}")
    try:
        _wait_until_up(process, server.endpoint_url, log)
        # Its own thread and event loop: the tests' loops stay untouched.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, _create_bucket(server)).result()
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
