"""The Custom zip unpacker against crafted archives: each is refused with its own reason and
leaves nothing in the destination's folder; a good one is unpacked whole, owner-only."""
from __future__ import annotations

import io
import json
import stat

import pytest

from marketd.plugins.custom.unpack import Caps, UnsafeArchive, unpack

from . import archives

CAPS = Caps(max_files=100, max_file_bytes=2 * 1024 * 1024, max_total_bytes=4 * 1024 * 1024, max_ratio=100)


def test_a_good_archive_is_unpacked_whole_and_owner_only(tmp_path):
    dest = tmp_path / "custom" / "302-1" / "11111"
    files = unpack(io.BytesIO(archives.good_zip()), dest, CAPS)
    assert sorted(map(str, files)) == ["11111.json", "design.svg", "photo.png"]
    assert json.loads((dest / "11111.json").read_text(encoding="utf-8"))["orderItemId"] == "11111"
    assert (dest / "photo.png").read_bytes() == archives.PNG
    assert all(stat.S_IMODE((dest / f).stat().st_mode) == 0o600 for f in files)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    assert [p.name for p in dest.parent.iterdir()] == ["11111"]


@pytest.mark.parametrize("make, reason", [
    (archives.traversal_zip, "path_traversal"),
    (archives.absolute_zip, "absolute_path"),
    (archives.symlink_zip, "symlink"),
    (archives.ratio_bomb, "compression_ratio"),
    (archives.lying_size_zip, "corrupt"),    # zipfile stops at the size the header says; the CRC then fails
    (archives.encrypted_zip, "encrypted"),
    (archives.overlapped_zip, "overlapping_entries"),
    (archives.many_files_zip, "too_many_files"),
    (archives.case_duplicate_zip, "duplicate_name"),
    (archives.truncated_zip, "not_a_zip"),
    (lambda: b"<html>AccessDenied</html>", "not_a_zip"),
])
def test_a_crafted_archive_is_refused_with_its_reason_and_leaves_nothing(tmp_path, make, reason):
    parent = tmp_path / "custom" / "302-1"
    parent.mkdir(parents=True)
    with pytest.raises(UnsafeArchive) as err:
        unpack(io.BytesIO(make()), parent / "11111", CAPS)
    assert err.value.reason == reason, err.value.message
    assert list(parent.iterdir()) == []
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path.parent / "escaped.txt").exists()


def test_the_overlap_check_is_what_stops_the_quadratic_bomb(tmp_path):
    """Without it, 50 names over one 200 kB entry would each decompress in full: the total cap
    stops the same archive too, but only after 4 MB were written."""
    with pytest.raises(UnsafeArchive) as err:
        unpack(io.BytesIO(archives.overlapped_zip()), tmp_path / "x", Caps(max_total_bytes=10**9))
    assert err.value.reason == "overlapping_entries"
