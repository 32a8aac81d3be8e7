"""What a catalog file already carried, in a few bytes per row: its accepted SKUs (a SKU twice
is refused) and EANs (an EAN on two SKUs is a warning).

Why not a dict or a temporary table: a dict of 2,000,000 SKUs costs hundreds of MB, a temporary
table a second B-tree write per row. Here each accepted row costs a 64-bit hash, a 32-bit row
number, its line, its EAN as an integer and its SKU as UTF-8 bytes in its chunk's array (about 35
bytes for a 2,000,000-row file's rows); a hash match is only a candidate, confirmed by comparing
the SKUs themselves, so every answer is exact.
"""
from __future__ import annotations

import numpy as np

_POWERS = 10 ** np.arange(12, -1, -1, dtype=np.int64)


def hashes(skus: list[str]) -> np.ndarray:
    """The SKUs' hashes, computed once per chunk for :func:`repeats`, :meth:`Seen.earlier` and
    :meth:`Seen.add`."""
    return np.fromiter(map(hash, skus), dtype=np.int64, count=len(skus))


def repeats(skus: list[str], h: np.ndarray) -> np.ndarray:
    """True for each SKU that an earlier position of ``skus`` holds too (``h`` its hashes)."""
    dup = np.zeros(len(skus), dtype=bool)
    if len(skus) < 2:
        return dup
    order = np.argsort(h)
    sorted_h = h[order]
    same = sorted_h[1:] == sorted_h[:-1]
    if not same.any():
        return dup
    # only SKUs sharing a hash can be equal: those few are compared as text, in file order
    tied = np.zeros(len(skus), dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    seen: set[str] = set()
    for i in np.sort(order[tied]).tolist():
        if skus[i] in seen:
            dup[i] = True
        else:
            seen.add(skus[i])
    return dup


def _utf8(values: list[str]) -> np.ndarray:
    try:
        return np.array(values, dtype="S")
    except UnicodeEncodeError:
        return np.array([v.encode("utf-8") for v in values], dtype="S")


def _ean_numbers(eans: list[str]) -> np.ndarray:
    """Validated EAN-13s (13 ASCII digits each) as int64, read from their bytes in one go."""
    if not eans:
        return np.zeros(0, dtype=np.int64)
    digits = np.frombuffer("".join(eans).encode("ascii"), dtype=np.uint8).reshape(-1, 13).astype(np.int64) - 48
    return digits @ _POWERS


class Seen:
    def __init__(self):
        self._keys = np.zeros(0, dtype=np.int64)    # sorted hashes of accepted SKUs
        self._rows = np.zeros(0, dtype=np.int32)    # the accepted row (numbered across chunks) per key
        self._starts = [0]                          # first row number of each chunk (and the next)
        self._skus: list[np.ndarray] = []           # per chunk: its accepted SKUs (UTF-8)
        self._lines: list[np.ndarray] = []          # per chunk: their lines
        self._eans: list[np.ndarray] = []           # per chunk: their EANs (13 digits as int64)

    def _at(self, row: int) -> tuple[int, int]:
        chunk = int(np.searchsorted(self._starts, row, side="right")) - 1
        return chunk, row - self._starts[chunk]

    def _sku(self, row: int) -> str:
        chunk, pos = self._at(row)
        return self._skus[chunk][pos].decode("utf-8")

    def _line(self, row: int) -> int:
        chunk, pos = self._at(row)
        return int(self._lines[chunk][pos])

    def earlier(self, skus: list[str], h: np.ndarray | None = None) -> dict[str, int]:
        """For the given SKUs (``h``: their hashes), the line of the accepted row that carried each earlier."""
        if not skus or not len(self._keys):
            return {}
        h = hashes(skus) if h is None else h
        at = np.searchsorted(self._keys, h, side="left")
        hit = self._keys[np.minimum(at, len(self._keys) - 1)] == h
        found = {}
        for k in np.flatnonzero(hit).tolist():
            j = int(at[k])
            while j < len(self._keys) and self._keys[j] == h[k]:
                row = int(self._rows[j])
                if self._sku(row) == skus[k]:
                    found[skus[k]] = self._line(row)
                    break
                j += 1
        return found

    def add(self, skus: list[str], lines: np.ndarray, eans: list[str], h: np.ndarray | None = None) -> None:
        """Remember one chunk's accepted rows (SKUs distinct and new, EANs validated 13 digits)."""
        first = self._starts[-1]
        self._starts.append(first + len(skus))
        self._skus.append(_utf8(skus))
        self._lines.append(np.asarray(lines, dtype=np.int32))
        self._eans.append(_ean_numbers(eans))
        h = hashes(skus) if h is None else h
        order = np.argsort(h)
        h = h[order]
        at = np.searchsorted(self._keys, h, side="right")  # a merge of two sorted arrays, no full sort
        self._keys = np.insert(self._keys, at, h)
        self._rows = np.insert(self._rows, at, (first + order).astype(np.int32))

    def known(self, skus: list[str]) -> set[str]:
        """Those of ``skus`` that an accepted row of this file carries."""
        return set(self.earlier(list(dict.fromkeys(skus))))

    def shared_eans(self) -> list[tuple[int, str, str, str, int]]:
        """``(line, sku, ean, first_sku, first_line)`` for each accepted row whose EAN an earlier
        accepted row of the file carries under another SKU."""
        if not self._eans:
            return []
        eans = np.concatenate(self._eans)
        order = np.argsort(eans, kind="stable")  # rows are numbered in line order: ties stay in line order
        eans = eans[order]
        same_as_prev = np.zeros(len(eans), dtype=bool)
        same_as_prev[1:] = eans[1:] == eans[:-1]
        dups = np.flatnonzero(same_as_prev)
        if not len(dups):
            return []
        group_starts = np.flatnonzero(~same_as_prev)
        firsts = group_starts[np.searchsorted(group_starts, dups, side="right") - 1]
        out = []
        for i, f in zip(dups.tolist(), firsts.tolist()):
            row, first = int(order[i]), int(order[f])
            out.append((self._line(row), self._sku(row), f"{int(eans[i]):013d}", self._sku(first), self._line(first)))
        return sorted(out)
