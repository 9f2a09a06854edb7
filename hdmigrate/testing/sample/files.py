"""Attachment files of the sample, made in code (PNG, GIF, PDF, text)."""

from __future__ import annotations

import struct
import zlib

from .texts import _LOG_LINE

# ---------------------------------------------------------------------------------------------
# Files, made in code


_png_idat: dict[tuple[int, int, int], bytes] = {}


def _png(width: int, height: int, k: int) -> bytes:
    """A checkered RGB PNG; the pixels repeat every 64 values of k, the tEXt chunk makes each file
    unique."""
    key = (width, height, k % 64)
    idat = _png_idat.get(key)
    if idat is None:
        idat = _png_idat[key] = zlib.compress(_png_pixels(width, height, k % 64), 6)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"tEXt", b"Comment\x00hdmigrate sample image %d" % k) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def _png_pixels(width: int, height: int, k: int) -> bytes:
    r, g, b = (k * 97) % 256, (k * 57 + 80) % 256, (k * 29 + 160) % 256
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            if (x // 4 + y // 4) % 2:
                row += bytes((r, g, b))
            else:
                row += bytes((255 - x * 4 % 256, 255 - y * 4 % 256, 240))
        rows.append(bytes(row))
    return b"".join(rows)


def _gif(width: int, height: int, k: int) -> bytes:
    """A 4-colour GIF89a; LZW with a clear code every two pixels keeps codes at 3 bits."""
    palette = bytes((255, 255, 255, (k * 53) % 256, 40, 90, 230, (k * 31) % 256, 30, 0, 0, 0))
    codes = []
    pixels = [((x // 3 + y // 3 + k) % 3) + (1 if x == y else 0) for y in range(height) for x in range(width)]
    for i in range(0, len(pixels), 2):
        codes.append(4)
        codes.extend(pixels[i:i + 2])
    codes.append(5)
    bits = 0
    nbits = 0
    data = bytearray()
    for c in codes:
        bits |= c << nbits
        nbits += 3
        while nbits >= 8:
            data.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        data.append(bits & 0xFF)
    blocks = b"".join(bytes([len(data[i:i + 255])]) + bytes(data[i:i + 255]) for i in range(0, len(data), 255))
    return (b"GIF89a" + struct.pack("<HHBBB", width, height, 0x81, 0, 0) + palette
            + b"!\xfe" + bytes([len(note := b"hdmigrate sample image %d" % k)]) + note + b"\x00"
            + b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02" + blocks + b"\x00;")


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF 1.4 with Helvetica text (WinAnsi), correct xref offsets."""
    def lit(s: str) -> str:
        b = s.encode("cp1252", "replace")
        return "".join(chr(c) if 32 <= c < 127 and chr(c) not in "()\\" else f"\\{c:03o}" for c in b)

    content = "BT /F1 12 Tf 56 780 Td 16 TL " + " ".join(f"({lit(line)}) '" for line in lines) + " ET"
    objs = ["<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
            "/Contents 5 0 R >>",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
            f"<< /Length {len(content)} >>\nstream\n{content}\nendstream"]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


# kind: (file names, content type, inline)
_FILE_KINDS = ("png_inline", "pdf", "gif_inline", "txt", "csv", "png")


def _make_file(kind: str, k: int, v: dict) -> tuple[str, str, bytes]:
    if kind == "png_inline":
        return f"image{k % 1000:03d}.png", "image/png", _png(24 + k % 9, 16 + k % 5, k)
    if kind == "png":
        names = ("Screenshot {d} um 10.{m:02d}.png", "Foto_Schaden_{k}.png", "スクリーンショット_{k}.png")
        return names[k % 3].format(d=v["date"], m=k % 60, k=k), "image/png", _png(40, 30, k)
    if kind == "gif_inline":
        return ("写真_破損_{k}.gif" if k % 2 else "logo_{k}.gif").format(k=k), "image/gif", _gif(18, 12, k)
    if kind == "pdf":
        name = ("Rechnung_{inv}.pdf", "Lieferschein März {inv}.pdf", "Retourenschein {inv}.pdf")[k % 3]
        return (name.format(inv=v["invoice"]), "application/pdf",
                _pdf([f"Rechnung {v['invoice']}", f"Bestellung {v['order']}", f"Betrag: {v['amount_de']}",
                      "Vielen Dank für Ihren Einkauf!", f"hdmigrate sample #{k}"]))
    if kind == "txt":
        text = (f"Fehlerprotokoll Bestellung {v['order']}\n"
                + "".join(_LOG_LINE.format(d=v["date"], m=j, s=(j * 7) % 60, n=k * 10 + j) for j in range(6)))
        return f"fehlerprotokoll_{k}.txt", "text/plain", text.encode("utf-8")
    if kind == "csv":
        text = ("\ufeffArtikel;Menge;Einzelpreis;Summe\r\n"
                "Wasserkocher „Aurora“;1;49,90;49,90\r\n"
                f"Entkalker (Großpackung);{k % 4 + 1};7,95;{(k % 4 + 1) * 7.95:.2f}\r\n".replace(".", ",")
                + "Gutschein „Frühling“;1;-10,00;-10,00\r\n")
        return f"positionen_{v['order']}.csv", "text/csv", text.encode("utf-8")
    raise ValueError(kind)


_EMPTY_FILES = (("leer.txt", "text/plain"), ("scan_0001.pdf", "application/pdf"), ("Anhang.png", "image/png"))
