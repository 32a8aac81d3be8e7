"""``[inbox.content.listings]``: what may be pushed where, and the audit's tolerances."""
from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from marketd.sdk import Settings


class ListingsSettings(Settings):
    # platform name -> brands approved there ("*": every brand). Nothing is pushed by default: the
    # onboarding issue owns approvals; until it lands this allow-list is the gate.
    allow: dict[str, list[str]] = Field(default_factory=dict)
    # platforms whose listings are pulled and audited; None: the platforms in `allow` (a brand may
    # want the audit of listings someone else made: name the platform here without allowing pushes)
    pull: list[str] | None = None
    max_batch: int = Field(10000, ge=1, le=25000)        # SKUs per batch (one Amazon feed at most 25,000)
    price_tolerance: Decimal = Decimal("0.01")           # audit: |remote - expected| beyond this is an error
    title_similarity: float = Field(0.85, ge=0, le=1)    # audit: below this a warning
    expected_first_image: dict[str, str] = Field(default_factory=dict)   # platform -> packshot | model
    # audit: the platform's main image is the supplied one when at most this many of the 64 dHash
    # bits differ (re-encoding/resizing moves a few, another picture about half)
    image_match_distance: int = Field(10, ge=0, le=32)

    def pulled(self, platform: str) -> bool:
        return platform in (self.pull if self.pull is not None else self.allow)

    def allowed(self, platform: str, brand: str) -> bool:
        brands = self.allow.get(platform) or []
        return "*" in brands or brand in brands
