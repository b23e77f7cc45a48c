"""Files the demo Invent serves at `/assets/<name>`: avatars and attachments.

Everything is generated in code (no binary files in the repo, no external host),
deterministically, so file sizes quoted in the seed data match what is served.
"""

from __future__ import annotations

import csv
import functools
import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

CACHE_CONTROL = "public, max-age=86400"

Rgb = tuple[int, int, int]


@dataclass(frozen=True)
class Asset:
    content_type: str
    body: bytes


# Avatar people: asset slug -> (initials, background colour).
SVG_AVATARS: dict[str, tuple[str, str]] = {
    "grace": ("GH", "#0369a1"),
    "linus": ("LN", "#4d7c0f"),
    "nova": ("AI", "#7c3aed"),
    "ada": ("AL", "#be123c"),
    "bruno": ("BS", "#b45309"),
    "chiara": ("CR", "#0f766e"),
    "hostile": ("<>", "#111827"),
}


def png(width: int, height: int, pixel: Callable[[int, int], Rgb]) -> bytes:
    """Encode an RGB image as PNG (no filter, zlib level 9)."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type "none" for this scanline
        for x in range(width):
            rows.extend(pixel(x, y))

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def jpeg(blocks: list[list[Rgb]]) -> bytes:
    """Encode a baseline JPEG where each 8x8 block has one flat colour.

    Flat blocks need only a DC coefficient, so a four-line Huffman coder is
    enough; the result is an ordinary JFIF file any browser decodes.
    """
    height, width = len(blocks) * 8, len(blocks[0]) * 8
    # Standard DC luminance table (JPEG Annex K.3); AC needs only end-of-block.
    dc_counts = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    dc_codes = _huffman_codes(dc_counts, 12)
    eob = (0, 1)  # AC table with a single 1-bit code for EOB (symbol 0x00)

    bits: list[int] = []

    def put(value: int, length: int) -> None:
        bits.extend((value >> shift) & 1 for shift in range(length - 1, -1, -1))

    predictors = [0, 0, 0]
    for row in blocks:
        for rgb in row:
            for index, level in enumerate(_ycbcr(rgb)):
                # DC = 8 * mean of the level-shifted samples; the quantiser is 8.
                dc = round(level - 128)
                diff, predictors[index] = dc - predictors[index], dc
                category = abs(diff).bit_length()
                code, length = dc_codes[category]
                put(code, length)
                if category:
                    put(diff if diff > 0 else diff + (1 << category) - 1, category)
                put(*eob)
    bits.extend([1] * (-len(bits) % 8))
    scan = bytearray()
    for start in range(0, len(bits), 8):
        byte = int("".join(map(str, bits[start : start + 8])), 2)
        scan.append(byte)
        if byte == 0xFF:
            scan.append(0)  # byte stuffing

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">HH", 0xFF00 | marker, len(payload) + 2) + payload

    components = b"".join(bytes([ident, 0x11, 0]) for ident in (1, 2, 3))
    return (
        b"\xff\xd8"
        + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + segment(0xDB, b"\x00" + bytes([8] * 64))
        + segment(0xC0, struct.pack(">BHHB", 8, height, width, 3) + components)
        + segment(0xC4, b"\x00" + bytes(dc_counts) + bytes(range(12)))
        + segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
        + segment(0xDA, b"\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00")
        + bytes(scan)
        + b"\xff\xd9"
    )


def _huffman_codes(counts: list[int], symbols: int) -> list[tuple[int, int]]:
    codes: list[tuple[int, int]] = []
    code = 0
    for length, count in enumerate(counts, start=1):
        for _ in range(count):
            codes.append((code, length))
            code += 1
        code <<= 1
    return codes[:symbols]


def _ycbcr(rgb: Rgb) -> tuple[float, float, float]:
    r, g, b = rgb
    return (
        0.299 * r + 0.587 * g + 0.114 * b,
        128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
        128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
    )


def pdf(lines: list[str]) -> bytes:
    """A one-page PDF showing `lines` in Helvetica (ASCII only)."""
    text = "BT /F1 14 Tf 56 780 Td 18 TL " + " ".join(f"({_pdf_escape(line)}) '" for line in lines) + " ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text.encode("ascii")),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at)
    return bytes(out)


def _pdf_escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def svg_avatar(initials: str, colour: str) -> bytes:
    # Presentation attributes only: no <style>, no script, so it renders under a strict CSP.
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
        f'<circle cx="48" cy="48" r="48" fill="{colour}"/>'
        '<text x="48" y="60" font-family="system-ui, sans-serif" font-size="36" font-weight="600" '
        f'fill="#ffffff" text-anchor="middle">{escape(initials)}</text></svg>'
    ).encode()


def _screenshot_pixel(x: int, y: int) -> Rgb:
    if y < 24:
        return (30, 41, 59)  # window title bar
    if 40 <= y < 180 and 16 <= x < 304 and (y - 40) % 20 < 10:
        return (186, 230, 253) if x < 16 + (y * 7) % 288 else (241, 245, 249)  # text lines
    return (255, 255, 255)


def _avatar_pixel(x: int, y: int) -> Rgb:
    inside = (x - 31.5) ** 2 + (y - 31.5) ** 2 <= 32**2
    return (77, 124, 15) if inside else (255, 255, 255)


def _csv() -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["date", "order", "amount_eur", "status"])
    for day in range(1, 31):
        status = "paid" if day % 4 else "refunded"
        writer.writerow([f"2026-11-{day:02d}", f"NW-{4100 + day}", f"{day * 17.5:.2f}", status])
    return buffer.getvalue().encode()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # A fixed date keeps the archive byte-identical between runs.
        for name, body in (("README.txt", b"Diagnostics bundle (demo)\n"), ("logs/app.log", b"INFO started\n" * 40)):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 11, 1, 9, 0, 0)), body)
    return buffer.getvalue()


def _jpeg_photo() -> bytes:
    palette: list[Rgb] = [(14, 165, 233), (99, 102, 241), (236, 72, 153), (250, 204, 21)]
    return jpeg([[palette[(row + col) % 4] for col in range(6)] for row in range(4)])


_BUILDERS: dict[str, tuple[str, Callable[[], bytes]]] = {
    "screenshot.png": ("image/png", lambda: png(320, 200, _screenshot_pixel)),
    "photo.jpg": ("image/jpeg", _jpeg_photo),
    "invoice.pdf": ("application/pdf", lambda: pdf(["Northwind Support", "Invoice INV-2026-0042", "Total: 129 EUR"])),
    "orders.csv": ("text/csv; charset=utf-8", _csv),
    "diagnostics.zip": ("application/zip", _zip),
    "blob.bin": ("application/octet-stream", lambda: bytes(range(256)) * 4),
    "avatar-linus.png": ("image/png", lambda: png(64, 64, _avatar_pixel)),
    "avatar-bruno.jpg": ("image/jpeg", lambda: jpeg([[(180, 83, 9)] * 2] * 2)),
    **{
        f"avatar-{slug}.svg": ("image/svg+xml", functools.partial(svg_avatar, initials, colour))
        for slug, (initials, colour) in SVG_AVATARS.items()
    },
}

ASSET_NAMES: frozenset[str] = frozenset(_BUILDERS)


@functools.cache
def get_asset(name: str) -> Asset | None:
    """The asset called `name`, or None when there is no such asset."""
    entry = _BUILDERS.get(name)
    if entry is None:
        return None
    content_type, build = entry
    return Asset(content_type=content_type, body=build())


def asset_path(name: str) -> str:
    """The stored (host-less) URL of an asset; the API prefixes it when serving."""
    if name not in _BUILDERS:
        raise KeyError(name)
    return f"/assets/{name}"
