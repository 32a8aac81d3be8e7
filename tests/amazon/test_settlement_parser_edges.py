"""Edges of the settlement parser that no other test pinned down: each test here kills a mutant
the mutation run (``make mutate``, docs/dev/mutation.md) left alive, i.e. a change to
plugins/amazon/settlement_parser.py that every other test let pass."""
from __future__ import annotations

import pytest

from marketd.errors import FileRejected
from marketd.plugins.amazon.settlement_parser import parse_settlement

from .settlement_samples import basic_settlement, line_of, render_v2, set_cell


def test_a_configured_encoding_is_checked_over_the_whole_file_not_only_the_columns_read():
    """With ``encoding = "utf-8"`` set, a cp1252 byte in a column the parser never reads (pandas
    reads only the ones it needs) still rejects the file, naming line and byte."""
    data = render_v2(basic_settlement())
    line = line_of(data, "Storage Fee")
    data = set_cell(data, line, "merchant-adjustment-item-id", "caf\u00e9").replace("caf\u00e9".encode(),
                                                                                   b"caf\xe9")
    with pytest.raises(FileRejected) as exc:
        parse_settlement(data, {"encoding": "utf-8"})
    err = exc.value
    assert err.reason == "encoding" and "the inbox's encoding setting says utf-8, but byte 0xe9" in err.message
    assert err.where == f"line {line}, byte {data.index(b'caf') + 3}"
