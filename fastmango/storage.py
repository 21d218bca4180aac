"""Where uploaded files live: the local disk (served under MEDIA_URL) or an S3-compatible bucket.

Rows store a storage *name* (`registrants/<hex>.webp`), never a URL or a path: templates
ask `storage.link(name)`, so moving to another backend or CDN changes no data. A column
that holds one is declared with the `StorageName` type: it refuses anything else on every
write, and it is what marks a column as a file field (the admin serves only those).
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from abc import ABC, abstractmethod
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard
from urllib.parse import quote
from uuid import uuid4

import aioboto3
from aiobotocore.config import AioConfig
from anyio import to_thread
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr
from sqlalchemy import Dialect, String
from sqlalchemy.types import TypeDecorator
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from fastmango.static_files import IMMUTABLE

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.types import Scope
    from types_aiobotocore_s3 import S3Client

    from fastmango.conf import BaseSettings

# Relative, "/"-separated, each part starting with a letter or digit: no "..", no absolute
# paths, no hidden files, nothing a URL or a file system reads differently.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")
MAX_NAME_LENGTH = 500  # the width of the columns that store names


class StorageError(Exception):
    """The backend failed (disk full, bucket unreachable...): a server fault, not the user's."""


def is_storage_name(name: object) -> TypeGuard[str]:
    """True for a name `check_name` accepts: what a file field may hold."""
    return (
        isinstance(name, str) and len(name) <= MAX_NAME_LENGTH and bool(_SAFE_NAME.fullmatch(name))
    )


def check_name(name: str) -> str:
    if not is_storage_name(name):
        raise ValueError(f"Unsafe storage name: {name!r}")
    return name


class StorageName(TypeDecorator[str]):
    """VARCHAR(500) holding a storage name: a file field.

    The check runs as the value is bound, so every write refuses a path or a URL (the ORM,
    `QuerySet.update`, Core statements); models add a validator for a field error first.
    Reads are not checked: a bad value already stored is shown as "no file" (`link`).
    """

    impl = String(MAX_NAME_LENGTH)
    cache_ok = True

    @property
    def python_type(self) -> type[str]:
        return str

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else check_name(value)


def new_name(folder: str, extension: str) -> str:
    """A fresh, unguessable name (`folder/<uuid4 hex>.ext`): uploads never overwrite each other."""
    return check_name(f"{folder}/{uuid4().hex}.{extension}")


class Storage(ABC):
    """Save, read, delete and link files by name. Deleting a missing file is not an error."""

    async def start(self) -> None:
        """Get ready at app startup (the local backend creates its folder)."""
        return  # optional hook: most backends have nothing to do

    async def close(self) -> None:
        """Release connections at app shutdown."""
        return

    @abstractmethod
    async def save(self, name: str, data: bytes, content_type: str) -> str:
        """Store `data` under `name` (replacing any file there) and return the name."""

    @abstractmethod
    async def read(self, name: str) -> bytes:
        """The file's bytes; `FileNotFoundError` when there is none."""

    @abstractmethod
    async def delete(self, name: str) -> None: ...

    @abstractmethod
    def url(self, name: str) -> str:
        """Where a browser fetches the file."""

    def link(self, name: str | None) -> str | None:
        """The file's URL; None when there is no file or `name` is not a storage name.

        For pages: a bad value left in a row shows as "no file" instead of failing the page.
        """
        return self.url(name) if name is not None and is_storage_name(name) else None


class LocalStorage(Storage):
    """Files under `root`, served by the app at `base_url` (see `mount_media`)."""

    def __init__(self, root: Path, base_url: str) -> None:
        self.root = Path(root)
        self.base_url = base_url.rstrip("/") + "/"

    def path(self, name: str) -> Path:
        path = self.root / check_name(name)
        # The name cannot climb out, but a link inside the folder could point anywhere:
        # whatever the path resolves to must still be under the (resolved) root.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise ValueError(f"Unsafe storage name: {name!r} leads outside the media folder")
        return path

    async def start(self) -> None:
        await to_thread.run_sync(partial(self.root.mkdir, parents=True, exist_ok=True))

    async def save(self, name: str, data: bytes, content_type: str) -> str:
        path = self.path(name)
        try:
            await to_thread.run_sync(_write_atomically, path, data)
        except OSError as exc:
            raise StorageError(f"Could not write {name}") from exc
        return name

    async def read(self, name: str) -> bytes:
        path = self.path(name)
        try:
            return await to_thread.run_sync(path.read_bytes)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StorageError(f"Could not read {name}") from exc

    async def delete(self, name: str) -> None:
        path = self.path(name)
        try:
            await to_thread.run_sync(partial(path.unlink, missing_ok=True))
        except OSError as exc:
            raise StorageError(f"Could not delete {name}") from exc

    def url(self, name: str) -> str:
        return self.base_url + quote(check_name(name))


def _write_atomically(path: Path, data: bytes) -> None:
    # A temporary file in the same folder, then a rename: readers (and a crash) never see
    # half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; a web server in front must read it
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class S3Storage(Storage):
    """Objects in an S3-compatible bucket (AWS, MinIO, R2, moto...).

    `url()` is a plain public URL, `{public_url}/{name}` (a CDN or a public bucket domain), by
    default `{endpoint_url}/{bucket}/{name}` or the AWS bucket domain: names are unguessable and
    images are meant to be shown, so no presigning (which would also make `url()` async and
    pages uncacheable). The bucket, or the CDN in front of it, must allow public reads.
    """

    def __init__(
        self,
        *,
        bucket: str,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: SecretStr | None = None,
        public_url: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.region = region
        self.endpoint_url = endpoint_url
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key  # unwrapped only to open the client
        if public_url:
            self.public_url = public_url.rstrip("/")
        elif endpoint_url:
            self.public_url = f"{endpoint_url.rstrip('/')}/{bucket}"
        else:
            self.public_url = f"https://{bucket}.s3.{region}.amazonaws.com"
        # The session is cheap and made once; the client (its connection pool) is opened on
        # first use and kept until `close()`.
        self._session = aioboto3.Session()
        self._client: S3Client | None = None
        self._stack = AsyncExitStack()
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r})"

    async def _s3(self) -> S3Client:
        async with self._lock:
            if self._client is None:
                secret = self._secret_access_key
                config = AioConfig(
                    # MinIO, moto and most S3 clones want path-style URLs; AWS accepts both.
                    s3={"addressing_style": "path" if self.endpoint_url else "auto"},
                    # Newer botocore adds CRC checksums some S3 clones reject; MD5-era is enough.
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                    connect_timeout=5,
                    read_timeout=30,
                    retries={"max_attempts": 3, "mode": "standard"},
                )
                client: S3Client = await self._stack.enter_async_context(
                    self._session.client(
                        "s3",
                        region_name=self.region,
                        endpoint_url=self.endpoint_url,
                        aws_access_key_id=self._access_key_id,
                        aws_secret_access_key=secret.get_secret_value() if secret else None,
                        config=config,
                    )
                )
                self._client = client
            return self._client

    async def close(self) -> None:
        async with self._lock:
            await self._stack.aclose()
            self._client = None
            self._stack = AsyncExitStack()

    async def save(self, name: str, data: bytes, content_type: str) -> str:
        s3 = await self._s3()
        try:
            await s3.put_object(
                Bucket=self.bucket,
                Key=check_name(name),
                Body=data,
                ContentType=content_type,
                CacheControl=IMMUTABLE,  # a name is never reused for other content
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"Could not upload {name} to bucket {self.bucket}") from exc
        return name

    async def read(self, name: str) -> bytes:
        s3 = await self._s3()
        try:
            response = await s3.get_object(Bucket=self.bucket, Key=check_name(name))
            async with response["Body"] as body:
                return await body.read()
        except s3.exceptions.NoSuchKey:
            raise FileNotFoundError(name) from None
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"Could not read {name} from bucket {self.bucket}") from exc

    async def delete(self, name: str) -> None:
        s3 = await self._s3()
        try:
            # S3 answers 204 for a key that does not exist: nothing to special-case.
            await s3.delete_object(Bucket=self.bucket, Key=check_name(name))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"Could not delete {name} from bucket {self.bucket}") from exc

    def url(self, name: str) -> str:
        return f"{self.public_url}/{quote(check_name(name))}"


def build_storage(settings: BaseSettings) -> Storage:
    """The backend STORAGE_BACKEND names (settings refuse `s3` without S3_BUCKET)."""
    if settings.storage_backend == "s3":
        if not settings.s3_bucket:
            raise ValueError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        return S3Storage(
            bucket=settings.s3_bucket,
            region=settings.s3_region,
            endpoint_url=settings.s3_endpoint_url,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            public_url=settings.s3_public_url,
        )
    return LocalStorage(settings.media_root, settings.media_url)


class MediaFiles(StaticFiles):
    """Uploaded files: every name is new, so browsers may keep them for a year."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = IMMUTABLE
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def mount_media(app: Starlette, storage: Storage) -> None:
    """Serve local uploads under MEDIA_URL, unless it points at another server (a CDN)."""
    if not isinstance(storage, LocalStorage):
        return
    path = storage.base_url.rstrip("/")
    if path.startswith("/"):  # not "http://cdn...", and not "/" (it would shadow every page)
        # check_dir=False: the folder is created by `storage.start()` in the lifespan.
        app.mount(path, MediaFiles(directory=storage.root, check_dir=False), name="media")
