"""``marketd.sdk.write_atomic``: how a plugin puts a fetched document (a payout, a settlement
report, an invoice) into an inbox. Three plugins had their own copy, one of them creating the file
with whatever the umask allowed (0644 under a login shell) although it names orders and amounts."""
from __future__ import annotations

import os
import stat

from marketd.sdk import write_atomic


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_fetched_file_is_whole_owner_only_whatever_the_umask_and_no_temp_stays(tmp_path):
    old = os.umask(0o002)
    try:
        target = tmp_path / "inbox" / "settlements" / "ebay-shop-payout-1.json"
        assert write_atomic(target, b'{"payout": 1}') == target
    finally:
        os.umask(old)
    assert target.read_bytes() == b'{"payout": 1}' and mode(target) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    assert mode(target.parent) & 0o007 == 0  # a folder it had to create has nothing for others either


def test_a_rewrite_replaces_the_content_and_shared_files_keep_group_read(tmp_path):
    target = tmp_path / "models" / "tree.json"
    write_atomic(target, b"old")
    write_atomic(target, b"new", private=False)
    assert target.read_bytes() == b"new" and mode(target) == 0o640


def test_a_failed_write_keeps_the_old_file_and_leaves_only_the_hidden_temp(tmp_path, monkeypatch):
    target = tmp_path / "a.json"
    write_atomic(target, b"old")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    try:
        write_atomic(target, b"new")
    except OSError:
        pass
    else:
        raise AssertionError("the failed rename was not reported")
    assert target.read_bytes() == b"old"
    assert {p.name for p in tmp_path.iterdir()} <= {"a.json", ".a.json.tmp"}  # dot-files: no inbox takes them
