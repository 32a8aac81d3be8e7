"""File names the report job writes into ``inbox/health/`` and how the handler reads them back.

``<platform>-<account>-<kind>-<request id>.<ext>``: the account travels in the name, so a report
fetched through the API and the same report saved from Seller Central take one code path and a
hand-dropped file needs only ``[inbox.health] account``.
"""
from __future__ import annotations

import re

KINDS = ("performance", "feedback", "returns", "compliance")
_NAME = re.compile(r"^(?P<platform>[a-z0-9]+)-(?P<account>[A-Za-z0-9_.-]+?)-(?P<kind>performance|feedback|returns|compliance)"
                   r"-(?P<id>[A-Za-z0-9]+)\.[a-z]+$")


def file_name(platform: str, account: str, kind: str, request_id: str, ext: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", account) or "account"
    rid = re.sub(r"[^A-Za-z0-9]+", "", request_id) or "0"
    return f"{platform}-{safe}-{kind}-{rid}.{ext}"


def parse_name(name: str) -> dict | None:
    m = _NAME.match(name)
    return m.groupdict() if m else None


def account_for(ctx) -> str:
    """The file's account: from a name the report job wrote, else ``[inbox.health] account``, else
    the only configured channel account, else ``""``."""
    parsed = parse_name(ctx.name)
    if parsed:
        return parsed["account"]
    if ctx.settings.get("account"):
        return ctx.settings["account"]
    channels = list((ctx.app.config.get("channels") or {}))
    return channels[0] if len(channels) == 1 else ""
