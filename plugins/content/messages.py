"""The German and English text of every rule, so a report can go to a German brand or an
English-speaking platform manager without translating by hand. Fields in braces are filled from
the issue (attribute, value, expected, platform, locale) and the rule's own details."""
from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # the file itself
    "content.sku.missing": ("row {line} has no SKU; it is not checked", "Zeile {line} hat keine SKU und wird nicht geprüft"),
    "content.sku.whitespace": ("the SKU contains whitespace", "die SKU enthält Leerzeichen"),
    "content.sku.duplicate": ("the SKU appears more than once{for_locale} (lines {lines}); the first row is used",
                              "die SKU kommt mehrfach vor{for_locale_de} (Zeilen {lines}); die erste Zeile gilt"),
    "content.ean.length": ("the EAN must have exactly 13 digits", "die EAN muss genau 13 Ziffern haben"),
    "content.ean.checksum": ("the EAN's check digit is wrong", "die Prüfziffer der EAN ist falsch"),
    "content.locale_conflict": ("{attribute} differs between the locale rows of this SKU ({values}); the first is used",
                                "{attribute} unterscheidet sich zwischen den Sprachzeilen dieser SKU ({values}); "
                                "der erste Wert gilt"),
    "content.locale.unknown": ("locale {value} is not configured ([inbox.content] locales); its rows are not checked",
                               "Sprache {value} ist nicht konfiguriert ([inbox.content] locales); ihre Zeilen werden "
                               "nicht geprüft"),
    "content.variant.orphan": ("the parent SKU {value} is not in the file", "die Eltern-SKU {value} fehlt in der Datei"),
    "content.variant.theme_missing": ("the variation theme {theme} needs {attribute} on every child",
                                      "das Variantenthema {theme} verlangt {attribute} bei jeder Variante"),
    "content.unknown_column": ("column {attribute} is not a known content column; it is kept as an attribute",
                               "Spalte {attribute} ist keine bekannte Inhaltsspalte; sie wird als Attribut übernommen"),
    "content.text.replacement": ("{attribute} contains U+FFFD (a character lost in an encoding conversion)",
                                 "{attribute} enthält U+FFFD (ein bei einer Zeichensatz-Umwandlung verlorenes Zeichen)"),
    "content.gpsr.party": ("GPSR party {value} is not known (no party file defines it)",
                           "GPSR-Partei {value} ist unbekannt (keine Parteien-Datei definiert sie)"),
    "content.gpsr.doc": ("safety document entry {value} is not type:language:url (e.g. Safety Information:de:https://…)",
                         "Sicherheitsdokument {value} ist nicht Typ:Sprache:URL (z. B. Safety Information:de:https://…)"),
    # what the platforms answered to a listings push (push_issues.py)
    "push.content": ("{platform} refused or flagged the listing push ({state}): {detail}",
                     "{platform} hat das Listing beim Übertragen abgelehnt oder beanstandet ({state}): {detail}"),
    "push.offer": ("{platform} refused or flagged the price/stock update ({state}): {detail}",
                   "{platform} hat die Preis-/Bestandsänderung abgelehnt oder beanstandet ({state}): {detail}"),
    # data models
    "model.missing": ("no data model for category {category} on {platform}: the model is needed before content "
                      "can go live", "kein Datenmodell für Kategorie {category} auf {platform}: das Modell wird vor "
                      "dem Go-live benötigt"),
    "model.unreadable": ("the data model {model} cannot be read: {detail}",
                         "das Datenmodell {model} ist nicht lesbar: {detail}"),
    "model.unsupported_keyword": ("the schema of {model} uses keyword {value}, which is not checked",
                                  "das Schema von {model} nutzt das Schlüsselwort {value}, das nicht geprüft wird"),
    "model.external_ref": ("the schema of {model} refers to {value}, which is not available offline; that part is "
                           "not checked", "das Schema von {model} verweist auf {value}, das offline nicht verfügbar "
                           "ist; dieser Teil wird nicht geprüft"),
    "model.required": ("{attribute} is required", "{attribute} ist ein Pflichtfeld"),
    "model.conditional_required": ("{attribute} is required because {condition}",
                                   "{attribute} ist Pflicht, weil {condition}"),
    "model.max_length": ("{attribute} is {length} characters long; at most {expected} are allowed",
                         "{attribute} ist {length} Zeichen lang; erlaubt sind höchstens {expected}"),
    "model.min_length": ("{attribute} is {length} characters long; at least {expected} are needed",
                         "{attribute} ist {length} Zeichen lang; nötig sind mindestens {expected}"),
    "model.allowed": ("{attribute} = {value} is not an allowed value", "{attribute} = {value} ist kein erlaubter Wert"),
    "model.type": ("{attribute} = {value} is not a {expected}", "{attribute} = {value} ist kein gültiger Wert vom Typ {expected}"),
    "model.max_values": ("{attribute} has {count} values; at most {expected} are allowed",
                         "{attribute} hat {count} Werte; erlaubt sind höchstens {expected}"),
    "model.pattern": ("{attribute} = {value} does not match the required format {expected}",
                      "{attribute} = {value} entspricht nicht dem Format {expected}"),
    # Amazon product type schemas (the message is jsonschema's, with its path)
    "amazon.schema": ("{detail}", "Amazon-Schema: {detail}"),
    # eBay aspects
    "ebay.aspect.required": ("aspect {aspect} is required in this category", "Artikelmerkmal {aspect} ist in dieser "
                             "Kategorie Pflicht"),
    "ebay.aspect.recommended": ("aspect {aspect} is recommended in this category", "Artikelmerkmal {aspect} wird in "
                                "dieser Kategorie empfohlen"),
    "ebay.aspect.required_soon": ("aspect {aspect} becomes required on {expected}", "Artikelmerkmal {aspect} wird ab "
                                  "{expected} Pflicht"),
    "ebay.aspect.selection_only": ("aspect {aspect} = {value} is not one of eBay's values", "Artikelmerkmal {aspect} = "
                                   "{value} ist keiner der eBay-Werte"),
    "ebay.aspect.max_length": ("aspect {aspect} = {value} is longer than {expected} characters",
                               "Artikelmerkmal {aspect} = {value} ist länger als {expected} Zeichen"),
    "ebay.aspect.cardinality": ("aspect {aspect} takes one value; {count} are given", "Artikelmerkmal {aspect} erlaubt "
                                "einen Wert; angegeben sind {count}"),
    "ebay.aspect.format": ("aspect {aspect} = {value} is not a valid {expected}", "Artikelmerkmal {aspect} = {value} ist "
                           "kein gültiger Wert ({expected})"),
    "ebay.aspect.value_constraint": ("aspect {aspect} = {value} is only allowed when {expected}",
                                     "Artikelmerkmal {aspect} = {value} ist nur erlaubt, wenn {expected}"),
    "ebay.product.max_length": ("{attribute} is {length} characters long; eBay takes at most {expected}",
                                "{attribute} ist {length} Zeichen lang; eBay erlaubt höchstens {expected}"),
    # GPSR (Regulation (EU) 2023/988, Art. 19)
    "gpsr.manufacturer.name": ("GPSR: the manufacturer's name is missing", "GPSR: der Name des Herstellers fehlt"),
    "gpsr.manufacturer.postal": ("GPSR: the manufacturer's postal address is incomplete ({detail})",
                                 "GPSR: die Postanschrift des Herstellers ist unvollständig ({detail})"),
    "gpsr.manufacturer.electronic": ("GPSR: the manufacturer needs a valid e-mail address or web address",
                                     "GPSR: der Hersteller braucht eine gültige E-Mail- oder Web-Adresse"),
    "gpsr.rp.required": ("GPSR: the manufacturer is outside the EU/EEA ({value}), so an EU responsible person is "
                         "required ({detail})", "GPSR: der Hersteller sitzt außerhalb von EU/EWR ({value}); eine "
                         "verantwortliche Person in der EU ist Pflicht ({detail})"),
    "gpsr.rp.not_eu": ("GPSR: the responsible person must be established in the EU/EEA, not in {value}",
                       "GPSR: die verantwortliche Person muss in EU/EWR ansässig sein, nicht in {value}"),
    "gpsr.po_box": ("GPSR: a P.O. box is not a sufficient postal address ({attribute})",
                    "GPSR: ein Postfach genügt nicht als Postanschrift ({attribute})"),
    "gpsr.identifier": ("GPSR: the product needs an identifier (a valid GTIN, or model, batch or serial number)",
                        "GPSR: das Produkt braucht eine Kennung (gültige GTIN oder Modell-, Chargen- oder "
                        "Seriennummer)"),
    "gpsr.image": ("GPSR: the product needs at least one image", "GPSR: das Produkt braucht mindestens ein Bild"),
    "gpsr.safety.missing": ("GPSR: no safety information in any language and no attestation that none is needed",
                            "GPSR: keine Sicherheitsinformationen in irgendeiner Sprache und keine Bestätigung, dass "
                            "keine nötig sind"),
    "gpsr.safety.xor_conflict": ("GPSR: the attestation says there is no safety information, yet safety information "
                                 "or documents are given", "GPSR: die Bestätigung sagt, es gebe keine "
                                 "Sicherheitsinformationen, dennoch sind welche oder Dokumente angegeben"),
    "gpsr.safety.language": ("GPSR: safety information exists ({value}) but none in {expected}, the language of {platform}",
                             "GPSR: Sicherheitsinformationen gibt es ({value}), aber keine auf {expected}, der Sprache "
                             "von {platform}"),
    "gpsr.render.limit": ("GPSR: {attribute} does not fit {platform}'s limit ({detail})",
                          "GPSR: {attribute} passt nicht in das Limit von {platform} ({detail})"),
    "gpsr.postal_records": ("GPSR: Amazon takes postal addresses from the manufacturer and responsible-person "
                            "records in Seller Central; keep them there", "GPSR: Amazon nimmt Postanschriften aus "
                            "den Hersteller- und Verantwortlichen-Einträgen in Seller Central; dort pflegen"),
    # images
    "image.not_found": ("image {value} is not in the zip", "Bild {value} ist nicht in der ZIP-Datei"),
    "image.download": ("image {value} could not be downloaded: {detail}", "Bild {value} konnte nicht geladen werden: "
                       "{detail}"),
    "image.pending": ("image {value} is not downloaded yet; the content-images job fetches it and re-checks",
                      "Bild {value} ist noch nicht geladen; der Job content-images lädt es und prüft erneut"),
    "image.unreadable": ("image {value} cannot be read: {detail}", "Bild {value} ist nicht lesbar: {detail}"),
    "image.format": ("image {value} is {detail}; use JPEG, PNG, GIF or TIFF",
                     "Bild {value} ist {detail}; JPEG, PNG, GIF oder TIFF verwenden"),
    "image.too_small": ("the main image is {detail}; the longest side should be at least {expected} px",
                        "das Hauptbild ist {detail}; die längste Seite sollte mindestens {expected} px haben"),
    "image.main_background": ("the main image's background is not pure white ({detail})",
                              "der Hintergrund des Hauptbilds ist nicht reinweiß ({detail})"),
    "image.main_fill": ("the product fills {detail} of the main image; about {expected} is expected",
                        "das Produkt füllt {detail} des Hauptbilds; erwartet sind etwa {expected}"),
    "image.first_kind": ("the first image looks like a {value} shot; {platform} expects a {expected} shot",
                         "das erste Bild wirkt wie ein {value_de}; {platform} erwartet ein {expected_de}"),
    "image.first_uncertain": ("the first image could not be classified (packshot or model); check it by eye",
                              "das erste Bild ließ sich nicht einordnen (Freisteller oder Modelbild); bitte ansehen"),
}

KIND_DE = {"packshot": "Freisteller/Packshot", "model": "Modelbild", "uncertain": "unklares Bild", "any": "beliebiges Bild"}


class _Blank(dict):
    def __missing__(self, key):
        return ""


def text_for(rule: str, **fields) -> tuple[str, str]:
    """(English, German) text of ``rule`` with ``fields`` filled in; an unknown rule keeps its detail."""
    key = rule if rule in MESSAGES else rule.rsplit(".", 1)[0] if rule.rsplit(".", 1)[0] in MESSAGES else None
    if key is None and rule.startswith("amazon.schema"):
        key = "amazon.schema"
    if key is None:
        detail = fields.get("detail") or rule
        return str(detail), str(detail)
    fields = _Blank({k: ("" if v is None else v) for k, v in fields.items()})
    fields.setdefault("value_de", KIND_DE.get(str(fields.get("value")), fields.get("value")))
    fields.setdefault("expected_de", KIND_DE.get(str(fields.get("expected")), fields.get("expected")))
    en, de = MESSAGES[key]
    return en.format_map(fields), de.format_map(fields)
