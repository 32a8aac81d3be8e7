"""What the buyer chose, from the JSON in a Custom archive.

Amazon publishes no schema for it. Third-party parsers describe ``customizationInfo.version3.0
.surfaces[].areas[]`` with ``customizationType`` TextPrinting (``text``, ``fontFamily``, ``fill``),
Options (``optionValue``) and ImagePrinting (``image.imageName``); older archives carry other
shapes. So this reads defensively: known fields where they are, every other area kept with its
label, and the raw JSON stays beside the sheet for the workshop.
"""
from __future__ import annotations

import json
from pathlib import Path


def areas(folder: Path) -> list[dict]:
    """One dict per personalised area of every JSON file in ``folder``: surface, label, kind,
    text, font, colour, option, image."""
    out = []
    for path in sorted(folder.rglob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            out.append({"surface": "", "label": path.name, "kind": "unreadable", "text": "", "font": "", "colour": "",
                        "option": "", "image": ""})
            continue
        info = (doc.get("customizationInfo") or {}) if isinstance(doc, dict) else {}
        v3 = info.get("version3.0") if isinstance(info, dict) else None
        surfaces = (v3 or {}).get("surfaces") if isinstance(v3, dict) else None
        for surface in surfaces or []:
            for area in (surface or {}).get("areas") or []:
                if not isinstance(area, dict):
                    continue
                image = area.get("image") if isinstance(area.get("image"), dict) else {}
                out.append({"surface": str(surface.get("name") or ""), "label": str(area.get("label") or ""),
                            "kind": str(area.get("customizationType") or ""), "text": str(area.get("text") or ""),
                            "font": str(area.get("fontFamily") or ""), "colour": str(area.get("fill") or ""),
                            "option": str(area.get("optionValue") or ""), "image": str(image.get("imageName") or "")})
    return out
