"""Uploaded images: accepted by content only, bombs refused, output small, upright and clean."""

from __future__ import annotations

import io
import struct
import threading
import zlib
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image, ImageCms

from fastmango import images
from fastmango.errors import PayloadTooLarge, ValidationError
from fastmango.images import InvalidImage, ProcessedImage, process_image
from fastmango.web import handlers

LIMIT = 5 * 1024 * 1024
RED, BLUE = (220, 20, 20), (20, 20, 220)


def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def two_colours(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue: shows which way the image was turned."""
    image = Image.new(mode, size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    return image


def photo_with_exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0110] = "Model X-1"  # Model
    return encode(two_colours((800, 400)), "JPEG", exif=exif, quality=95)


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG start claiming huge dimensions: a few bytes that would decode to gigabytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def opened(result: ProcessedImage) -> Image.Image:
    image = Image.open(io.BytesIO(result.data))
    image.load()
    return image


def close_to(pixel: Any, colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(pixel[:3], colour, strict=True))


@pytest.mark.parametrize(
    ("fmt", "params"),
    [("JPEG", {"quality": 90}), ("PNG", {}), ("WEBP", {"quality": 90})],
)
async def test_jpeg_png_and_webp_come_out_as_a_small_webp(fmt: str, params: Any) -> None:
    data = encode(two_colours((1600, 1000)), fmt, **params)
    result = await process_image(data, max_bytes=LIMIT)
    image = opened(result)
    assert (result.content_type, result.extension) == ("image/webp", "webp")
    assert image.format == "WEBP"
    assert image.size == (512, 320) == (result.width, result.height)
    assert close_to(image.getpixel((50, 160)), RED)
    assert close_to(image.getpixel((460, 160)), BLUE)


async def test_max_side_is_a_parameter_and_small_images_are_not_enlarged() -> None:
    data = encode(two_colours((300, 900)), "PNG")
    assert opened(await process_image(data, max_bytes=LIMIT, max_side=90)).size == (30, 90)
    assert opened(await process_image(data, max_bytes=LIMIT, max_side=2000)).size == (300, 900)


async def test_exif_orientation_is_applied_then_all_exif_dropped() -> None:
    # Orientation 6: the camera was turned; viewers rotate 90 degrees clockwise.
    data = photo_with_exif(orientation=6)
    assert b"SecretCam" in data
    result = await process_image(data, max_bytes=LIMIT)
    image = opened(result)
    assert image.size == (256, 512)  # landscape pixels, shown as portrait
    assert close_to(image.getpixel((128, 100)), RED)  # the left half is now on top
    assert close_to(image.getpixel((128, 400)), BLUE)
    assert len(image.getexif()) == 0
    assert "exif" not in image.info
    assert "xmp" not in image.info
    assert b"SecretCam" not in result.data
    assert b"Exif" not in result.data


async def test_transparency_survives_and_palettes_become_rgb() -> None:
    clear = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    clear.paste((10, 200, 10, 255), (0, 0, 50, 100))
    image = opened(await process_image(encode(clear, "PNG"), max_bytes=LIMIT))
    assert image.mode == "RGBA"
    assert image.getchannel("A").getpixel((90, 50)) == 0
    assert image.getchannel("A").getpixel((10, 50)) == 255

    palette = two_colours((64, 64)).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    image = opened(await process_image(encode(palette, "PNG"), max_bytes=LIMIT))
    assert image.mode == "RGB"
    assert close_to(image.getpixel((5, 5)), RED)


async def test_grey_cmyk_and_16_bit_images_are_converted() -> None:
    grey = Image.linear_gradient("L").resize((64, 64))
    assert opened(await process_image(encode(grey, "JPEG"), max_bytes=LIMIT)).mode == "RGB"
    cmyk = Image.new("CMYK", (64, 64), (0, 0, 0, 0))
    assert opened(await process_image(encode(cmyk, "JPEG"), max_bytes=LIMIT)).mode == "RGB"
    deep = Image.new("I;16", (64, 64), 65535)
    image = opened(await process_image(encode(deep, "PNG"), max_bytes=LIMIT))
    assert close_to(image.getpixel((5, 5)), (255, 255, 255))


async def test_rgb_colour_profiles_are_kept_others_dropped() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    rgb = encode(two_colours((64, 64)), "JPEG", icc_profile=srgb)
    assert opened(await process_image(rgb, max_bytes=LIMIT)).info.get("icc_profile") == srgb
    # Converted to RGB, a CMYK image's profile no longer describes its pixels.
    cmyk = encode(Image.new("CMYK", (64, 64)), "JPEG", icc_profile=srgb)
    assert not opened(await process_image(cmyk, max_bytes=LIMIT)).info.get("icc_profile")


def gif() -> bytes:
    return encode(two_colours((40, 40)), "GIF")


def truncated_jpeg() -> bytes:
    whole = encode(Image.effect_noise((400, 400), 64).convert("RGB"), "JPEG")
    return whole[: len(whole) // 2]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(gif, id="gif"),
        pytest.param(lambda: encode(two_colours((40, 40)), "BMP"), id="bmp"),
        pytest.param(lambda: encode(two_colours((40, 40)), "TIFF"), id="tiff"),
        pytest.param(
            lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            id="svg",
        ),
        pytest.param(lambda: b"<!doctype html><html><body>hello</body></html>", id="html"),
        pytest.param(lambda: b"just some text pretending to be a photo.jpg\n", id="text"),
        pytest.param(lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", id="pdf"),
        pytest.param(lambda: b"\xff\xd8\xff\xe0" + b"\x00" * 64, id="jpeg-magic-only"),
        pytest.param(truncated_jpeg, id="truncated-jpeg"),
        pytest.param(lambda: gif() + encode(two_colours((40, 40)), "JPEG"), id="gif-then-jpeg"),
    ],
)
async def test_anything_else_is_refused_whatever_its_name(content: Any) -> None:
    # There is no name or declared type to trust: only the bytes are looked at.
    with pytest.raises(InvalidImage, match="not a JPEG, PNG or WebP image"):
        await process_image(content(), max_bytes=LIMIT)


async def test_empty_file_is_refused() -> None:
    with pytest.raises(InvalidImage, match="empty"):
        await process_image(b"", max_bytes=LIMIT)


async def test_over_the_size_limit_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = encode(Image.effect_noise((300, 300), 80).convert("RGB"), "PNG")
    monkeypatch.setattr(images, "_process", None)  # never reached
    with pytest.raises(PayloadTooLarge, match="larger than") as refused:
        await process_image(data, max_bytes=len(data) - 1)
    assert refused.value.status_code == 413


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (100_000, 100_000),  # past twice Pillow's limit: DecompressionBombError
        (10_000, 10_000),  # past Pillow's limit: a DecompressionBombWarning (an error here)
        (8_000, 6_000),  # under Pillow's limit, over ours
    ],
)
async def test_decompression_bombs_are_refused(width: int, height: int) -> None:
    with pytest.raises(InvalidImage, match="too many pixels"):
        await process_image(png_header_only(width, height), max_bytes=LIMIT)


async def test_the_pixel_limit_is_checked_before_decoding() -> None:
    data = encode(two_colours((1000, 1000)), "PNG")
    with pytest.raises(InvalidImage, match=r"too many pixels \(1000x1000\)"):
        await process_image(data, max_bytes=LIMIT, max_pixels=999_999)


async def test_pillow_runs_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    original = images._process

    def spy(*args: Any) -> ProcessedImage:
        threads.append(threading.current_thread())
        return original(*args)

    monkeypatch.setattr(images, "_process", spy)
    await process_image(encode(two_colours((10, 10)), "PNG"), max_bytes=LIMIT)
    assert threads
    assert threads[0] is not threading.main_thread()


async def test_handlers_answer_400_and_413() -> None:
    app = FastAPI()
    handlers.install(app)

    @app.post("/api/upload/{case}")
    async def upload(case: str) -> None:
        if case == "big":
            await process_image(b"x" * 2048, max_bytes=1024)
        await process_image(b"GIF89a", max_bytes=1024)

    assert issubclass(InvalidImage, ValidationError)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        big = await client.post("/api/upload/big")
        bad = await client.post("/api/upload/bad")
    assert big.status_code == 413
    assert big.json() == {"detail": "The image is larger than 1 KB.", "code": "too_large"}
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_image"
