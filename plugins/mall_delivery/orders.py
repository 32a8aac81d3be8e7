"""What MALL Delivery reads from a stored MALL order: its package size class.

MALL marks items (and MALL Delivery orders) as ``smallbox`` or ``bigbox``; the smallbox method
belongs to MALL Delivery once it is active, which is what the carrier's veto enforces.
"""
from __future__ import annotations

import json


def _json(value):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def package_size(order: dict | None) -> str:
    """``smallbox``/``bigbox`` from the order (``package_size`` on its items or on the order;
    an ``mdp`` order is a MALL Delivery smallbox order), else ``""``."""
    if not order:
        return ""
    items = _json(order.get("items")) or []
    raw = _json(order.get("raw")) or {}
    raw = raw if isinstance(raw, dict) else {}
    listed = (items if isinstance(items, list) else []) + (raw.get("items") or [])
    sizes = {str(it.get("package_size") or "").lower() for it in listed if isinstance(it, dict)}
    if raw.get("package_size"):
        sizes.add(str(raw["package_size"]).lower())
    if "bigbox" in sizes:
        return "bigbox"
    if "smallbox" in sizes or raw.get("mdp") is True:
        return "smallbox"
    return ""
