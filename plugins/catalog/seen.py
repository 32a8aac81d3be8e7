"""What a catalog file already carried, in a few bytes per row: its accepted SKUs (a SKU twice
is refused) and EANs (an EAN on two SKUs is a warning).

Why not a dict or a temporary table: a dict of 2,000,000 SKUs costs hundreds of MB, a temporary
table a second B-tree write per row. Here each accepted row costs a 64-bit hash, its line, a
reference and its SKU as UTF-8 bytes in its chunk's array; a hash match is only a candidate,
confirmed by comparing the SKU bytes, so the answer is exact.
"""
from __future__ import annotations

import numpy as np


def _hashes(skus: list[str]) -> np.ndarray:
    return np.fromiter(map(hash, skus), dtype=np.int64, count=len(skus))


def _utf8(values: list[str]) -> np.ndarray:
    try:
        return np.array(values, dtype="S")
    except UnicodeEncodeError:
        return np.array([v.encode("utf-8") for v in values], dtype="S")


class Seen:
    def __init__(self):
        self._keys = np.zeros(0, dtype=np.int64)    # sorted hashes of accepted SKUs
        self._refs = np.zeros(0, dtype=np.int64)    # (chunk << 32 | position) per key
        self._skus: list[np.ndarray] = []           # per chunk: its accepted SKUs (UTF-8)
        self._lines: list[np.ndarray] = []          # per chunk: their lines
        self._eans: list[np.ndarray] = []           # per chunk: their EANs (13 digits as int64)

    def _sku(self, ref: int) -> str:
        return self._skus[ref >> 32][ref & 0xFFFFFFFF].decode("utf-8")

    def _line(self, ref: int) -> int:
        return int(self._lines[ref >> 32][ref & 0xFFFFFFFF])

    def earlier(self, skus: list[str]) -> dict[str, int]:
        """For the given (distinct) SKUs, the line of the accepted row that carried each earlier."""
        if not skus or not len(self._keys):
            return {}
        h = _hashes(skus)
        lo = np.searchsorted(self._keys, h, side="left")
        hi = np.searchsorted(self._keys, h, side="right")
        found = {}
        for k in np.flatnonzero(hi > lo).tolist():
            for ref in self._refs[lo[k]:hi[k]].tolist():
                if self._sku(ref) == skus[k]:
                    found[skus[k]] = self._line(ref)
                    break
        return found

    def add(self, skus: list[str], lines: np.ndarray, eans: list[str]) -> None:
        """Remember one chunk's accepted rows (SKUs distinct and new, EANs validated 13 digits)."""
        chunk = len(self._skus)
        self._skus.append(_utf8(skus))
        self._lines.append(np.asarray(lines, dtype=np.int64))
        self._eans.append(np.asarray(eans, dtype=object).astype(np.int64) if eans else np.zeros(0, dtype=np.int64))
        keys = np.concatenate([self._keys, _hashes(skus)])
        refs = np.concatenate([self._refs, (np.int64(chunk) << 32) | np.arange(len(skus), dtype=np.int64)])
        order = np.argsort(keys, kind="stable")  # two sorted runs: a merge
        self._keys, self._refs = keys[order], refs[order]

    def known(self, skus: list[str]) -> set[str]:
        """Those of ``skus`` that an accepted row of this file carries."""
        return set(self.earlier(list(dict.fromkeys(skus))))

    def shared_eans(self) -> list[tuple[int, str, str, str, int]]:
        """``(line, sku, ean, first_sku, first_line)`` for each accepted row whose EAN an earlier
        accepted row of the file carries under another SKU."""
        if not self._eans:
            return []
        eans = np.concatenate(self._eans)
        lines = np.concatenate(self._lines)
        refs = np.concatenate([(np.int64(c) << 32) | np.arange(len(e), dtype=np.int64)
                               for c, e in enumerate(self._eans)])
        order = np.lexsort((lines, eans))
        eans, lines, refs = eans[order], lines[order], refs[order]
        same_as_prev = np.zeros(len(eans), dtype=bool)
        same_as_prev[1:] = eans[1:] == eans[:-1]
        idx = np.arange(len(eans))
        first_of = np.maximum.accumulate(np.where(same_as_prev, 0, idx))  # each group's first (earliest) row
        out = []
        for i in np.flatnonzero(same_as_prev).tolist():
            f = int(first_of[i])
            out.append((int(lines[i]), self._sku(int(refs[i])), f"{int(eans[i]):013d}", self._sku(int(refs[f])),
                        int(lines[f])))
        return sorted(out)
