"""Amazon Custom zips for the tests: a good one in the shape third-party parsers describe
(research api-contracts §1.8: ``customizationInfo.version3.0.surfaces[].areas[]``), and crafted
malicious ones, each built byte by byte where ``zipfile`` would refuse to write it."""
from __future__ import annotations

import io
import json
import stat
import struct
import zipfile

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
       b"\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")


def custom_json(order_id: str, item_id: str, text: str = "Für Oma Ilse ♥") -> dict:
    return {
        "orderId": order_id, "orderItemId": item_id, "legacyOrderItemId": item_id,
        "customizationInfo": {"version3.0": {"surfaces": [{"name": "Front", "areas": [
            {"customizationType": "TextPrinting", "label": "Engraving", "text": text, "fontFamily": "Dancing Script",
             "fill": "#B8860B", "Dimensions": {"width": 300, "height": 80}, "Position": {"x": 10, "y": 20}},
            {"customizationType": "Options", "label": "Wood", "optionValue": "Walnut"},
            {"customizationType": "ImagePrinting", "label": "Photo", "image": {"imageName": "photo.png"}},
        ]}]}},
    }


def good_zip(order_id="302-1", item_id="11111", text: str = "Für Oma Ilse ♥") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{item_id}.json", json.dumps(custom_json(order_id, item_id, text), ensure_ascii=False))
        z.writestr("photo.png", PNG)
        z.writestr("design.svg", '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    return buf.getvalue()


def _zip(entries: list[tuple[str, bytes]], compression=zipfile.ZIP_DEFLATED, infos=None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for i, (name, data) in enumerate(entries):
            if infos and infos[i] is not None:
                z.writestr(infos[i], data)
            else:
                z.writestr(name, data)
    return buf.getvalue()


def traversal_zip() -> bytes:
    info = zipfile.ZipInfo("x.json")
    info.filename = "../../escaped.txt"  # ZipInfo() itself would keep it; writestr keeps filename as set
    return _zip([("ok.json", b"{}"), ("", b"gotcha")], infos=[None, info])


def absolute_zip() -> bytes:
    info = zipfile.ZipInfo("x")
    info.filename = "/tmp/absolute.txt"
    return _zip([("", b"gotcha")], infos=[info])


def symlink_zip() -> bytes:
    info = zipfile.ZipInfo("link")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return _zip([("ok.json", b"{}"), ("", b"/etc/passwd")], infos=[None, info])


def ratio_bomb() -> bytes:
    """Under the size caps of the tests, but a thousand times its compressed size."""
    return _zip([("bomb.json", b"\x00" * (1900 * 1024))])


def _patch(data: bytes, fn) -> bytes:
    """Apply ``fn(buf, cd_offset, eocd_offset)`` to a one-entry zip's bytes."""
    buf = bytearray(data)
    eocd = buf.rfind(b"PK\x05\x06")
    cd = struct.unpack_from("<I", buf, eocd + 16)[0]
    fn(buf, cd, eocd)
    return bytes(buf)


def lying_size_zip() -> bytes:
    """The headers say 100 bytes; the data inflates to 5 MB (zipfile reads no further than the
    header says, so the entry's CRC does not match: refused as corrupt, nothing written)."""
    def lie(buf, cd, eocd):
        struct.pack_into("<I", buf, 22, 100)       # local header: uncompressed size
        struct.pack_into("<I", buf, cd + 24, 100)  # central directory: uncompressed size
    return _patch(_zip([("big.json", b"A" * (5 * 1024 * 1024))]), lie)


def encrypted_zip() -> bytes:
    def flag(buf, cd, eocd):
        struct.pack_into("<H", buf, 6, struct.unpack_from("<H", buf, 6)[0] | 1)
        struct.pack_into("<H", buf, cd + 8, struct.unpack_from("<H", buf, cd + 8)[0] | 1)
    return _patch(_zip([("secret.json", b"{}")]), flag)


def overlapped_zip(copies: int = 50) -> bytes:
    """One stored entry, then ``copies`` central directory records pointing at the same data
    under other names: each "file" reads the same bytes again (the quadratic zip bomb)."""
    data = _zip([("a0000.json", b"B" * 200_000)], compression=zipfile.ZIP_DEFLATED)
    buf = bytearray(data)
    eocd = buf.rfind(b"PK\x05\x06")
    cd = struct.unpack_from("<I", buf, eocd + 16)[0]
    record = bytes(buf[cd:eocd])
    records = [record] + [record.replace(b"a0000.json", f"a{n:04d}.json".encode()) for n in range(1, copies)]
    out = bytearray(buf[:cd]) + b"".join(records)
    end = bytearray(buf[eocd:])
    struct.pack_into("<HHII", end, 8, copies, copies, len(b"".join(records)), cd)
    return bytes(out + end)


def many_files_zip(n: int = 10_000) -> bytes:
    return _zip([(f"f{i}.txt", b"") for i in range(n)], compression=zipfile.ZIP_STORED)


def case_duplicate_zip() -> bytes:
    return _zip([("data.json", b"{}"), ("DATA.json", b"{}")])


def truncated_zip() -> bytes:
    return good_zip()[:-40]
