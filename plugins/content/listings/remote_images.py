"""The platform's own copy of a listing's main image, compared with the images the brand supplied.

Why a perceptual hash and not the URL: Amazon (and eBay) re-host every image on their own media
servers, re-encoded and resized, so the URL a listing shows is never the brand's. The only way to
tell "the platform shows our first image" from "it shows our cut-out" or "someone else's picture"
is to fetch the platform's copy and compare pictures. The comparison is a 64-bit difference hash
(:func:`..images.dhash`, grey 9×8 after the classifier's downscale) and its Hamming distance:
re-encoding and resizing move a handful of bits, a different picture about half of them. At most
``image_match_distance`` differing bits (default 10 of 64) is the same picture.

The download goes through the content plugin's :class:`..image_fetch.ImageSource` (the same host
policy, size cap, cache of facts per URL with revalidation) and is measured by the same
classifier, so the platform's copy also gets its own ``packshot | model | uncertain``.
"""
from __future__ import annotations

from ..images import decide, hamming


def supplied_images(db) -> dict[str, list[dict]]:
    """SKU -> the supplied images the content check looked at (position, ref, dHash, kind)."""
    out: dict[str, list[dict]] = {}
    for r in db.query("select sku, position, ref, dhash, kind from content_images order by sku, position"):
        out.setdefault(r["sku"], []).append({"position": r["position"], "ref": r["ref"], "dhash": r["dhash"] or "",
                                             "kind": r["kind"] or ""})
    return out


def compare(facts: dict, ours: list[dict], image_settings, max_distance: int) -> dict:
    """What the platform's copy is, from its measured ``facts`` (``ImageSource.facts``):
    ``{"position": n (1-based) of the supplied image it shows, or None, "distance": bits to the
    closest supplied image (None: nothing to compare), "kind": its own classification}``."""
    kind = decide(facts, image_settings)
    best_pos, best = None, None
    for img in ours:
        if not img["dhash"]:
            continue
        d = hamming(facts["dhash"], img["dhash"])
        if best is None or d < best or (d == best and img["position"] + 1 < best_pos):
            best, best_pos = d, img["position"] + 1
    if best is None:
        return {"position": None, "distance": None, "kind": kind}
    return {"position": best_pos if best <= max_distance else None, "distance": best, "kind": kind}


class RemoteImages:
    """Facts of the platforms' main images for one audit run; the source is opened on first use
    (an audit without image downloads never opens the cache)."""

    def __init__(self, app, settings):
        self.app, self.settings = app, settings
        self.source = None

    def facts(self, url: str) -> dict | None:
        if not url.lower().startswith(("http://", "https://")) or not self.settings.images.download:
            return None
        if self.source is None:
            from ..image_fetch import ImageSource

            # every listing's image is fetched now (cached per URL): nothing is queued for the
            # content-images job, which re-checks supplied content, not platform copies
            self.source = ImageSource(self.app, self.settings.images, budget=10**9)
        return self.source.facts(url)

    def supplied(self, refs: list[str], known: list[dict]) -> list[dict]:
        """Every supplied image of a SKU with its dHash: the content check's rows (it fetches only
        the first image of a URL list), the others fetched and measured now (cached per URL)."""
        have = {r["position"]: r for r in known if r["dhash"]}
        out = []
        for pos, ref in enumerate(refs):
            if pos in have and have[pos]["ref"] == ref:
                out.append(have[pos])
                continue
            f = self.facts(ref)
            if f is not None and f.get("ok"):
                out.append({"position": pos, "ref": ref, "dhash": f["dhash"], "kind": decide(f, self.settings.images)})
        return out

    def close(self) -> None:
        if self.source is not None:
            self.source.close()
            self.source = None
