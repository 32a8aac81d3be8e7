"""Schema drift: how far a document Amazon sent is from the contract we know, counted, never refused.

Why count and not reject: Amazon's own example breaks its account-health schema (status
``SUSPENDED``, ``prefulfillmentCancelRate``), and notification payloads gain fields without a new
version. The parsers stay tolerant; this module says *how much* a document deviates, so an
operator sees "schema drift: N" on the health page and in ``marketd status`` and knows when the
parser may be reading a shape it was not written for.

A deviation is a key the contract does not name, a JSON type other than the contract's, or a
value outside the contract's enum. Paths are written with ``[]`` for every list item, so 10,000
notifications with the same new field count 10,000 deviations under one path.

Contracts: the account-health report and the notification envelope are reductions of the
official models (``contract_data.py``, generated and checked by the contract tests); the
payloads of the six types health subscribes to have no schema in the vendored specs, so they are
written here from Amazon's public "Notification Type Values" page (developer-docs.amazon.com/
sp-api/docs/notification-type-values, one section per type), field names verbatim.
"""
from __future__ import annotations

from collections import Counter

from .contract_data import ACCOUNT_HEALTH_REPORT, NOTIFICATION_ENVELOPE

_S = {"type": "string"}
_STRINGS = {"type": "array", "items": _S}


def _obj(**props) -> dict:
    return {"type": "object", "properties": props}


# developer-docs.amazon.com/sp-api/docs/notification-type-values (section per type); the
# account-status one from …/docs/account-status-changed-notification (lower camel case there)
PAYLOADS = {
    "LISTINGS_ITEM_ISSUES_CHANGE": _obj(SellerId=_S, MarketplaceId=_S, Asin=_S, Sku=_S, Severities=_STRINGS,
                                        EnforcementActions=_STRINGS),
    "LISTINGS_ITEM_STATUS_CHANGE": _obj(SellerId=_S, MarketplaceId=_S, Asin=_S, Sku=_S, CreatedDate=_S,
                                        Status=_STRINGS),
    "ITEM_PRODUCT_TYPE_CHANGE": _obj(MarketplaceId=_S, Asin=_S, PreviousProductType=_S, CurrentProductType=_S),
    "BRANDED_ITEM_CONTENT_CHANGE": _obj(MarketplaceId=_S, BrandName=_S, Asin=_S, AttributesChanged=_STRINGS),
    "PRODUCT_TYPE_DEFINITIONS_CHANGE": _obj(AccountId=_S, MarketplaceId=_S, ProductTypeVersion=_S,
                                            NewProductTypes=_STRINGS),
    "ACCOUNT_STATUS_CHANGED": _obj(accountStatusChangeNotification=_obj(
        previousAccountStatus={"type": "string", "enum": ["NORMAL", "AT_RISK", "DEACTIVATED"]},
        currentAccountStatus={"type": "string", "enum": ["NORMAL", "AT_RISK", "DEACTIVATED"]})),
}

_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "object": (dict,),
          "array": (list,)}


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    for name in ("integer", "number", "string", "object", "array"):
        if isinstance(value, _TYPES[name]):
            return name
    return type(value).__name__


def _fits(value, t) -> bool:
    names = t if isinstance(t, list) else [t]
    k = _kind(value)
    return k in names or (k == "integer" and "number" in names)


def deviations(doc, contract: dict, root: dict | None = None, path: str = "$", out: Counter | None = None) -> Counter:
    """Deviations of ``doc`` from ``contract`` by path (``Counter`` of messages)."""
    root = root if root is not None else contract
    out = out if out is not None else Counter()
    while "$ref" in contract:
        contract = root["definitions"][contract["$ref"].rsplit("/", 1)[1]]
    t = contract.get("type")
    if t is not None and not _fits(doc, t):
        out[f"{path}: {_kind(doc)} where the contract has {t}"] += 1
        return out
    if "enum" in contract and doc not in contract["enum"]:
        out[f"{path}: {str(doc)[:40]!r} is not one of {', '.join(map(str, contract['enum']))}"] += 1
    props = contract.get("properties")
    if isinstance(doc, dict) and props is not None:
        for key, value in doc.items():
            if key in props:
                deviations(value, props[key], root, f"{path}.{key}", out)
            else:
                out[f"{path}.{str(key)[:60]}: not in the contract"] += 1
    items = contract.get("items")
    if isinstance(doc, list) and items is not None:
        for value in doc:
            deviations(value, items, root, f"{path}[]", out)
    return out


def account_health(doc) -> Counter:
    return deviations(doc, ACCOUNT_HEALTH_REPORT)


def notification(doc: dict, ntype: str) -> Counter:
    """The envelope against the official one (a lower-camel envelope, as Amazon documents for
    ACCOUNT_STATUS_CHANGED, is read with its first letters raised) and the payload against the
    documented fields of the types health acts on; other types' payloads are not judged."""
    if not isinstance(doc, dict):
        return Counter({"$: not an object": 1})
    env = {(k[:1].upper() + k[1:]) if isinstance(k, str) else k: v for k, v in doc.items()}
    if isinstance(env.get("NotificationMetadata"), dict):
        env["NotificationMetadata"] = {k[:1].upper() + k[1:]: v for k, v in env["NotificationMetadata"].items()}
    out = deviations(env, NOTIFICATION_ENVELOPE)
    if ntype in PAYLOADS and isinstance(env.get("Payload"), dict):
        deviations(env["Payload"], PAYLOADS[ntype], path="$.Payload", out=out)
    return out


def record(db, *, kind: str, account: str, source: str, found: Counter, now: str) -> int:
    """Store a file's drift (nothing when there is none); returns its count."""
    n = sum(found.values())
    if n:
        import json

        db.execute("insert into health_drift (kind, account, source, seen_at, count, paths) values (?, ?, ?, ?, ?, ?)",
                   [kind, account, source, now, n, json.dumps(dict(found.most_common(20)), sort_keys=True)])
    return n


def recent(db, since: str, account: str | None = None) -> tuple[int, Counter]:
    """Deviations seen since ``since`` (ISO time): total and the most frequent paths."""
    import json

    sql, args = "select count, paths from health_drift where seen_at >= ?", [since]
    if account is not None:
        sql += " and account = ?"
        args.append(account)
    total, paths = 0, Counter()
    for n, text in db.execute(sql, args):
        total += n
        paths.update(json.loads(text))
    return total, paths
