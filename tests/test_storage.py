"""Storage backends (local disk and a real S3 server) and registrant photos stored through them."""

from __future__ import annotations

import io
import logging
import re
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from pydantic import SecretStr
from pydantic import ValidationError as SettingsError

from fastmango.accounts.models import AuditLog, User
from fastmango.errors import NotFound, PayloadTooLarge
from fastmango.images import InvalidImage
from fastmango.storage import (
    LocalStorage,
    S3Storage,
    Storage,
    StorageError,
    build_storage,
    check_name,
    is_storage_name,
    new_name,
)
from main import create_app
from models import WebinarRegistrant
from services import WebinarService
from settings import Settings
from tests.conftest import make_settings
from tests.s3server import S3Server, s3_server
from tests.utils import make_registrant, make_user, make_webinar

__all__ = ["s3_server"]  # a fixture: pytest finds it in this module's globals

WEBP = "image/webp"
UNSAFE_NAMES = [
    "",
    "../secret.txt",
    "registrants/../../etc/passwd",
    "/etc/passwd",
    "registrants//a.webp",
    "registrants/./a.webp",
    ".env",
    "registrants/.hidden",
    "registrants\\a.webp",
    "a b.webp",
    "x" * 501,
]


def picture(
    size: tuple[int, int] = (900, 600), colour: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def sqlite_settings(tmp_path: Path, **overrides: Any) -> Settings:
    # No query runs in these app tests: an empty SQLite file is enough.
    return make_settings(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}", **overrides)


# -- names -----------------------------------------------------------------------------


def test_new_names_are_unique_and_safe() -> None:
    names = {new_name("registrants", "webp") for _ in range(100)}
    assert len(names) == 100
    assert all(re.fullmatch(r"registrants/[0-9a-f]{32}\.webp", name) for name in names)
    assert check_name("registrants/ab-c_1.webp") == "registrants/ab-c_1.webp"


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="Unsafe storage name"):
        check_name(name)


# -- local disk ------------------------------------------------------------------------


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[LocalStorage]:
    storage = LocalStorage(tmp_path / "media", "/media/")
    await storage.start()
    yield storage
    await storage.close()


async def test_local_save_read_url_delete(local: LocalStorage) -> None:
    assert local.root.is_dir()
    name = "registrants/abc.webp"
    assert await local.save(name, b"first", WEBP) == name
    assert await local.save(name, b"second", WEBP) == name  # replaces
    assert await local.read(name) == b"second"
    assert (local.root / name).read_bytes() == b"second"
    assert stat.S_IMODE((local.root / name).stat().st_mode) == 0o644
    assert local.url(name) == "/media/registrants/abc.webp"
    # Only the file itself: the temporary file was renamed, not left behind.
    assert sorted(p.name for p in (local.root / "registrants").iterdir()) == ["abc.webp"]
    await local.delete(name)
    assert not (local.root / name).exists()
    await local.delete(name)  # already gone: fine
    with pytest.raises(FileNotFoundError):
        await local.read(name)


async def test_local_refuses_traversal(local: LocalStorage, tmp_path: Path) -> None:
    for name in ("../outside.txt", "/tmp/outside.txt", "a/../../outside.txt"):
        with pytest.raises(ValueError, match="Unsafe"):
            await local.save(name, b"x", "text/plain")
        with pytest.raises(ValueError, match="Unsafe"):
            await local.read(name)
        with pytest.raises(ValueError, match="Unsafe"):
            await local.delete(name)
        with pytest.raises(ValueError, match="Unsafe"):
            local.url(name)
    assert not (tmp_path / "outside.txt").exists()


async def test_local_refuses_a_link_that_leads_out_of_the_root(
    local: LocalStorage, tmp_path: Path
) -> None:
    # A valid name, but the folder it names is a symlink to somewhere else.
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("outside the media root")
    (local.root / "registrants").symlink_to(secret.parent, target_is_directory=True)
    name = "registrants/secret.txt"
    with pytest.raises(ValueError, match="leads outside the media folder"):
        await local.read(name)
    with pytest.raises(ValueError, match="leads outside the media folder"):
        await local.save(name, b"x", "text/plain")
    with pytest.raises(ValueError, match="leads outside the media folder"):
        await local.delete(name)
    assert secret.read_text() == "outside the media root"


def test_link_is_none_for_no_file_or_a_name_that_is_not_one(local: LocalStorage) -> None:
    assert local.link("registrants/a.webp") == "/media/registrants/a.webp"
    assert is_storage_name("registrants/a.webp")
    for name in [None, *UNSAFE_NAMES]:
        assert local.link(name) is None
        assert not is_storage_name(name)


async def test_local_write_failures_are_storage_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    storage = LocalStorage(blocker, "/media/")
    with pytest.raises(StorageError, match="Could not write"):
        await storage.save("registrants/a.webp", b"x", WEBP)


# -- S3 (moto server over real HTTP) ---------------------------------------------------


@pytest.fixture
async def s3(s3_server: S3Server) -> AsyncIterator[S3Storage]:
    storage = s3_server.storage()
    yield storage
    await storage.close()


async def test_s3_save_fetch_over_http_read_delete(s3: S3Storage, s3_server: S3Server) -> None:
    name = new_name("registrants", "webp")
    data = picture()
    assert await s3.save(name, data, WEBP) == name
    assert s3.url(name) == f"{s3_server.endpoint_url}/{s3_server.bucket}/{name}"
    async with httpx.AsyncClient() as client:
        fetched = await client.get(s3.url(name))
        assert fetched.status_code == 200
        assert fetched.content == data
        assert fetched.headers["content-type"] == WEBP
        assert "immutable" in fetched.headers["cache-control"]
        assert await s3.read(name) == data

        await s3.delete(name)
        assert (await client.get(s3.url(name))).status_code == 404
    with pytest.raises(FileNotFoundError):
        await s3.read(name)
    await s3.delete(name)  # already gone: fine


async def test_s3_client_reopens_after_close(s3: S3Storage) -> None:
    name = new_name("registrants", "webp")
    await s3.save(name, b"one", WEBP)
    await s3.close()
    assert await s3.read(name) == b"one"
    await s3.delete(name)


async def test_s3_failures_are_storage_errors(s3_server: S3Server) -> None:
    storage = S3Storage(
        bucket="no-such-bucket",
        endpoint_url=s3_server.endpoint_url,
        access_key_id="testing",
        secret_access_key=SecretStr("testing"),
    )
    try:
        with pytest.raises(StorageError, match="no-such-bucket"):
            await storage.save("registrants/a.webp", b"x", WEBP)
        with pytest.raises(ValueError, match="Unsafe"):
            await storage.save("../a.webp", b"x", WEBP)
    finally:
        await storage.close()


def test_s3_urls_and_no_secret_in_repr() -> None:
    secret = SecretStr("very-secret-value")
    aws = S3Storage(bucket="pics", region="eu-west-3", secret_access_key=secret)
    assert (
        aws.url("registrants/a.webp")
        == "https://pics.s3.eu-west-3.amazonaws.com/registrants/a.webp"
    )
    cdn = S3Storage(bucket="pics", public_url="https://cdn.example.com/media/")
    assert cdn.url("registrants/a.webp") == "https://cdn.example.com/media/registrants/a.webp"
    assert "very-secret-value" not in repr(aws)
    assert "very-secret-value" not in repr(vars(aws))


# -- settings and the app --------------------------------------------------------------


def test_settings_refuse_s3_without_a_bucket(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="STORAGE_BACKEND=s3 needs S3_BUCKET"):
        sqlite_settings(tmp_path, storage_backend="s3")


def test_build_storage_follows_the_settings(tmp_path: Path) -> None:
    local = build_storage(sqlite_settings(tmp_path, media_root=tmp_path / "m", media_url="/up/"))
    assert isinstance(local, LocalStorage)
    assert (local.root, local.base_url) == (tmp_path / "m", "/up/")
    settings = sqlite_settings(
        tmp_path,
        storage_backend="s3",
        s3_bucket="pics",
        s3_endpoint_url="http://127.0.0.1:9000",
        s3_public_url="https://cdn.example.com",
    )
    s3 = build_storage(settings)
    assert isinstance(s3, S3Storage)
    assert (s3.bucket, s3.endpoint_url) == ("pics", "http://127.0.0.1:9000")
    assert s3.url("a.webp") == "https://cdn.example.com/a.webp"


async def test_app_serves_local_media_with_long_caching(tmp_path: Path) -> None:
    media = tmp_path / "media"
    (tmp_path / "secret.txt").write_text("next to MEDIA_ROOT, not in it")
    app = create_app(sqlite_settings(tmp_path, media_root=media))
    storage: Storage = app.state.storage
    async with app.router.lifespan_context(app):
        assert media.is_dir()  # made at startup
        name = await storage.save(new_name("registrants", "webp"), b"RIFF-bytes", WEBP)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            served = await client.get(storage.url(name))
            missing = await client.get("/media/registrants/nothing.webp")
            # Encoded so the client keeps the dots: the server must not leave MEDIA_ROOT.
            outside = [
                await client.get(path)
                for path in ("/media/%2e%2e/secret.txt", "/media/..%2fsecret.txt")
            ]
    assert served.status_code == 200
    assert served.content == b"RIFF-bytes"
    assert served.headers["content-type"] == WEBP
    assert "immutable" in served.headers["cache-control"]
    assert served.headers["x-content-type-options"] == "nosniff"
    assert missing.status_code == 404
    assert [response.status_code for response in outside] == [404, 404]


async def test_app_on_s3_mounts_no_media_and_closes_the_client(
    tmp_path: Path, s3_server: S3Server
) -> None:
    app = create_app(sqlite_settings(tmp_path, **s3_server.settings()))
    storage = app.state.storage
    assert isinstance(storage, S3Storage)
    assert all(getattr(route, "name", None) != "media" for route in app.routes)
    async with app.router.lifespan_context(app):
        name = await storage.save(new_name("registrants", "webp"), b"x", WEBP)
        assert storage._client is not None
    assert storage._client is None
    async with httpx.AsyncClient() as client:
        assert (await client.get(storage.url(name))).content == b"x"
    await storage.delete(name)
    await storage.close()


# -- registrant photos: every storage backend on every database --------------------------


@pytest.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    backend: Storage
    if request.param == "local":
        backend = LocalStorage(tmp_path / "media", "/media/")
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        backend = server.storage()
    await backend.start()
    yield backend
    await backend.close()


class Recorder:
    """Wraps a storage's save/delete to see what the service asked for."""

    def __init__(self, storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
        self.saved: list[str] = []
        self.deleted: list[str] = []
        save, delete = storage.save, storage.delete

        async def recording_save(name: str, data: bytes, content_type: str) -> str:
            self.saved.append(name)
            return await save(name, data, content_type)

        async def recording_delete(name: str) -> None:
            self.deleted.append(name)
            await delete(name)

        monkeypatch.setattr(storage, "save", recording_save)
        monkeypatch.setattr(storage, "delete", recording_delete)


async def exists(storage: Storage, name: str) -> bool:
    try:
        await storage.read(name)
    except FileNotFoundError:
        return False
    return True


async def photo_in_db(registrant_id: int) -> str | None:
    registrant = await WebinarRegistrant.objects.get(id=registrant_id)
    return (await registrant.refresh()).photo


@pytest.mark.usefixtures("session")
class TestRegistrantPhotos:
    service = WebinarService()
    limit = 5 * 1024 * 1024

    async def registrant_id(self) -> int:
        # Ids, not instances: a rolled-back transaction expires the instances in the session.
        registrant = await make_registrant(await make_webinar())
        assert registrant.id is not None
        return registrant.id

    async def test_set_photo_stores_a_webp_and_audits(self, storage: Storage) -> None:
        rid = await self.registrant_id()
        actor: User = await make_user(is_staff=True)
        updated = await self.service.set_photo(
            rid, picture(), storage, max_bytes=self.limit, actor=actor
        )
        name = updated.photo
        assert name is not None
        assert re.fullmatch(r"registrants/[0-9a-f]{32}\.webp", name)
        stored = Image.open(io.BytesIO(await storage.read(name)))
        assert (stored.format, stored.size) == ("WEBP", (512, 341))
        assert await photo_in_db(rid) == name
        assert updated.updated_at > updated.registered_at
        entry = await AuditLog.objects.filter(object_type="WebinarRegistrant").get()
        assert entry.actor_id == actor.id
        assert entry.changes == {"photo": [None, name]}

    async def test_replacing_deletes_the_old_file(self, storage: Storage) -> None:
        rid = await self.registrant_id()
        first = await self.service.set_photo(rid, picture(), storage, max_bytes=self.limit)
        old = first.photo
        assert old is not None
        second = await self.service.set_photo(
            rid, picture(colour=(0, 0, 255)), storage, max_bytes=self.limit
        )
        assert second.photo not in {None, old}
        assert second.photo is not None
        assert not await exists(storage, old)
        assert await exists(storage, second.photo)

    @pytest.mark.parametrize(
        ("data", "error"),
        [(b"GIF89a\x01\x00\x01\x00", InvalidImage), (b"", InvalidImage), (None, PayloadTooLarge)],
    )
    async def test_a_refused_upload_leaves_the_old_photo(
        self,
        storage: Storage,
        monkeypatch: pytest.MonkeyPatch,
        data: bytes | None,
        error: type[Exception],
    ) -> None:
        rid = await self.registrant_id()
        old = (await self.service.set_photo(rid, picture(), storage, max_bytes=self.limit)).photo
        assert old is not None
        recorder = Recorder(storage, monkeypatch)
        upload = data if data is not None else picture((2000, 2000))
        with pytest.raises(error):
            await self.service.set_photo(rid, upload, storage, max_bytes=2048)
        assert (recorder.saved, recorder.deleted) == ([], [])
        assert await photo_in_db(rid) == old
        assert await exists(storage, old)

    async def test_a_failed_database_write_deletes_the_new_file(
        self, storage: Storage, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        rid = await self.registrant_id()
        old = (await self.service.set_photo(rid, picture(), storage, max_bytes=self.limit)).photo
        assert old is not None
        recorder = Recorder(storage, monkeypatch)
        service = WebinarService()

        async def broken_audit(*args: Any) -> None:
            raise RuntimeError("audit table unavailable")

        monkeypatch.setattr(service.audit, "changed", broken_audit)
        with pytest.raises(RuntimeError, match="audit table unavailable"):
            await service.set_photo(rid, picture(), storage, max_bytes=self.limit)
        [new] = recorder.saved
        assert recorder.deleted == [new]
        assert not await exists(storage, new)
        assert await photo_in_db(rid) == old
        assert await exists(storage, old)

    async def test_unknown_registrant_is_not_found_and_stores_nothing(
        self, storage: Storage, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        recorder = Recorder(storage, monkeypatch)
        with pytest.raises(NotFound):
            await self.service.set_photo(999_999, picture(), storage, max_bytes=self.limit)
        with pytest.raises(NotFound):
            await self.service.remove_photo(999_999, storage)
        assert recorder.saved == []

    async def test_remove_photo_clears_the_row_then_the_file(self, storage: Storage) -> None:
        rid = await self.registrant_id()
        name = (await self.service.set_photo(rid, picture(), storage, max_bytes=self.limit)).photo
        assert name is not None
        removed = await self.service.remove_photo(rid, storage)
        assert removed.photo is None
        assert await photo_in_db(rid) is None
        assert not await exists(storage, name)
        entries = await AuditLog.objects.order_by("id")
        assert entries[-1].changes == {"photo": [name, None]}
        # Nothing to remove: no change, no audit entry.
        await self.service.remove_photo(rid, storage)
        assert await AuditLog.objects.count() == len(entries)

    async def test_a_storage_outage_after_the_change_is_logged_not_raised(
        self, storage: Storage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        rid = await self.registrant_id()
        old = (await self.service.set_photo(rid, picture(), storage, max_bytes=self.limit)).photo

        async def unreachable(name: str) -> None:
            raise StorageError(f"Could not delete {name}")

        monkeypatch.setattr(storage, "delete", unreachable)
        with caplog.at_level(logging.WARNING, logger="fastmango.webinars"):
            updated = await self.service.set_photo(rid, picture(), storage, max_bytes=self.limit)
        assert updated.photo != old
        assert f"Could not delete stored file {old}" in caplog.text
