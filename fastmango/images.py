"""Uploaded images: checked by content, decoded with limits, oriented, shrunk, re-encoded.

Nothing the client sends about the file (name, declared type) is trusted: Pillow reads the bytes,
only JPEG, PNG and WebP decoders are allowed to try, and what we store is a fresh WebP we encoded
ourselves (no EXIF, GPS or XMP left; only the colour profile is kept).
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

from anyio import to_thread
from PIL import Image, ImageOps

from fastmango.errors import PayloadTooLarge, ValidationError

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
# Below Pillow's own bomb limit (about 89 MP), above usual camera photos (12-24 MP): it caps
# what one PNG/WebP decode may allocate (40 MP RGBA is 160 MB; JPEGs decode at reduced scale).
MAX_PIXELS = 40_000_000
DEFAULT_MAX_SIDE = 512
WEBP_QUALITY = 82

# What a damaged or hostile file makes Pillow raise while opening, decoding or transposing.
_DECODE_ERRORS = (
    OSError,  # includes UnidentifiedImageError and "image file is truncated"
    SyntaxError,  # broken PNG chunks
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
)
# Pillow's own size guard: an error past twice its limit, a warning past it (an error in tests;
# elsewhere our smaller MAX_PIXELS refuses the file right after the warning).
_BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)


class InvalidImage(ValidationError):
    """Not a JPEG, PNG or WebP image we can read (a 400, or an inline form error)."""

    code = "invalid_image"


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


async def process_image(
    data: bytes,
    *,
    max_bytes: int,
    max_side: int = DEFAULT_MAX_SIDE,
    max_pixels: int = MAX_PIXELS,
) -> ProcessedImage:
    """Validate an upload by its content and return it as a WebP at most `max_side` wide/high.

    Raises `PayloadTooLarge` (413) over `max_bytes`, `InvalidImage` (400) for an empty file,
    anything that is not a readable JPEG/PNG/WebP, or one with more than `max_pixels` pixels.
    """
    if not data:
        raise InvalidImage("The file is empty.")
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"The image is larger than {_size(max_bytes)}.")
    # Decoding and resizing are CPU-bound: a worker thread keeps the event loop serving.
    return await to_thread.run_sync(_process, data, max_side, max_pixels)


def _process(data: bytes, max_side: int, max_pixels: int) -> ProcessedImage:
    try:
        # `formats` limits which decoders may claim the file: a GIF, SVG or text file fails here.
        with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as opened:
            width, height = opened.size
            if width * height > max_pixels:
                raise InvalidImage(f"The image has too many pixels ({width}x{height}).")
            # JPEG can decode at 1/2..1/8 scale straight away: far less memory and time.
            # Both sides stay >= the target, so a later 90 degree turn loses nothing.
            opened.draft(None, (max_side, max_side))
            opened.load()  # decode now: truncated or corrupt data fails inside this try
            image = ImageOps.exif_transpose(opened)
            # A CMYK or grey profile would misdescribe the RGB pixels we write: keep RGB ones only.
            rgb = opened.mode in {"RGB", "RGBA", "P", "PA"}
            icc_profile = opened.info.get("icc_profile") if rgb else None
    except InvalidImage:
        raise
    except _BOMB_ERRORS:
        raise InvalidImage("The image has too many pixels.") from None
    except _DECODE_ERRORS:
        raise InvalidImage("The file is not a JPEG, PNG or WebP image we can read.") from None

    image = _plain_mode(image)
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # Only what we pass is written: no EXIF (GPS, camera), no XMP; the ICC profile keeps colours.
    image.save(out, "WEBP", quality=WEBP_QUALITY, method=4, icc_profile=icc_profile or "")
    return ProcessedImage(out.getvalue(), "image/webp", "webp", image.width, image.height)


def _plain_mode(image: Image.Image) -> Image.Image:
    """RGBA when the image has any transparency, RGB otherwise (palettes, CMYK, grey, 16-bit)."""
    if image.mode in {"I", "I;16", "I;16B", "I;16L", "F"}:
        # 16/32-bit grey: scale to 8 bits first, a plain convert would clip to white.
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    transparent = "A" in image.getbands() or "transparency" in image.info
    mode = "RGBA" if transparent else "RGB"
    return image if image.mode == mode else image.convert(mode)


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    return f"{size / 1024:.3g} KB"
