"""The listings tables (component ``listings``).

- ``listing_batches``: one row per batch sent to a platform (content or offer); ``handle`` is
  what the channel saved step by step (feed document, feed id …), so a restart resumes it;
- ``listing_pushes``: per platform × SKU × kind the last payload sent, its state
  (pending → submitted → accepted | invalid | failed) and the platform's issues; the sha256 of
  the last accepted payload decides whether a SKU needs pushing again;
- ``remote_listings``: what each platform shows per SKU (title, category, price, stock, main
  image, issues, status), with ``first_live_at``; ``shows`` lists the fields the platform's read
  exposes at all (ManoMano's offers carry no category or image), the audit checks only those;
- ``listing_deviations``: the audit's findings, with the time each was first seen.
"""
from __future__ import annotations


def _v1(db):
    db["listing_batches"].create({"id": int, "platform": str, "channel": str, "kind": str, "state": str,
                                  "handle": str, "items": int, "created_at": str, "finished_at": str,
                                  "counts": str, "report": str, "error": str}, pk="id")
    db["listing_batches"].create_index(["platform", "state"])
    db["listing_pushes"].create({"platform": str, "sku": str, "kind": str, "channel": str, "batch_id": int,
                                 "sha256": str, "accepted_sha256": str, "state": str, "transport": str,
                                 "remote_ref": str, "issues": str, "updated_at": str, "accepted_at": str},
                                pk=("platform", "sku", "kind"))
    db["listing_pushes"].create_index(["batch_id"])
    db["remote_listings"].create({"platform": str, "sku": str, "channel": str, "remote_id": str, "status": str,
                                  "live": int, "present": int, "title": str, "category": str, "price": str,
                                  "currency": str, "quantity": int, "main_image_url": str, "url": str,
                                  "shows": str, "issues": str, "fetched_at": str, "first_live_at": str},
                                 pk=("platform", "sku"))
    db["listing_deviations"].create({"platform": str, "sku": str, "field": str, "rule": str, "severity": str,
                                     "state": str, "platform_shows": str, "should_show": str, "message_en": str,
                                     "message_de": str, "first_seen": str, "last_seen": str, "open": int},
                                    pk=("platform", "sku", "rule", "field"))


MIGRATIONS = [(1, _v1)]
COMPONENT = "listings"
