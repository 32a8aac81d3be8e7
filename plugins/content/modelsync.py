"""Keeping the data models current, and re-checking what a model change affects.

Sources of a change:

- a model file edited by hand (a TOML model gains a required attribute): its stamp differs from
  the one the brand's latest run recorded;
- the platform's API: a channel account whose channel declares ``capabilities.data_models``
  fetches a model again (``channel.fetch_data_model(ref, known_checksum=…)``; the Amazon channel
  asks the Product Type Definitions API) and a new checksum is written into ``models/`` with the
  old files kept under ``history/``;
- a platform's announcement: Amazon's ``PRODUCT_TYPE_DEFINITIONS_CHANGE`` notification, dropped
  into ``inbox/content/`` as JSON or passed by another plugin through the ``data_models_changed``
  hook. It is recorded (``content_model_events``) and handled by the next ``content-models`` run,
  which refreshes every product type in use for that marketplace (all marketplaces when the
  notification names none).

The ``content-models`` job then re-checks only the SKUs mapped to changed models and writes
``model-change-<platform>-<model>-<time>.csv`` with what is newly missing per SKU.
"""
from __future__ import annotations

import json
import logging
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from marketd.sdk import ConfigError, FileRejected, MarketdError, TransientError, inbox_settings_for, write_atomic

from . import recheck as rc
from . import report
from . import runs
from .registry import Registry, models_root

log = logging.getLogger("marketd.content")

PTD_CHANGE = "PRODUCT_TYPE_DEFINITIONS_CHANGE"


# -- events ------------------------------------------------------------------------------------------
def record_event(db, *, platform: str, marketplace: str, models: list[str], source: str, now: str) -> bool:
    """Note a model change for the next ``content-models`` run; False when ``source`` (a
    notification's type + id) was recorded before (notifications arrive at least once)."""
    if source and list(db.query("select id from content_model_events where source = ?", [source])):
        return False
    db["content_model_events"].insert({"platform": platform, "marketplace": marketplace or "",
                                       "models": json.dumps(sorted(models or [])), "source": source,
                                       "received_at": now, "handled_at": None, "result": None})
    return True


def parse_notification(doc) -> dict:
    """The parts of a PRODUCT_TYPE_DEFINITIONS_CHANGE notification we use (the SQS message body,
    or the same wrapped as ``{"Body": "…"}``)."""
    if isinstance(doc, dict) and isinstance(doc.get("Body"), str):
        try:
            doc = json.loads(doc["Body"])
        except ValueError:
            pass
    if not isinstance(doc, dict) or doc.get("NotificationType") != PTD_CHANGE:
        kind = doc.get("NotificationType") if isinstance(doc, dict) else None
        raise FileRejected("notification", f"a JSON file here must be an Amazon {PTD_CHANGE} notification"
                           + (f"; this one is {str(kind)[:60]}" if kind else ""),
                           fix="drop other notifications where account health reads them")
    payload = doc.get("Payload") or {}
    if not isinstance(payload, dict) or not payload.get("ProductTypeVersion"):
        raise FileRejected("notification", "the notification has no Payload.ProductTypeVersion",
                           fix="drop the notification as Amazon sent it")
    meta = doc.get("NotificationMetadata") or {}
    return {"marketplace": str(payload.get("MarketplaceId") or ""),
            "models": [str(x) for x in payload.get("NewProductTypes") or []],
            "version": str(payload["ProductTypeVersion"]),
            "source": f"{PTD_CHANGE}:{meta.get('NotificationId') or payload['ProductTypeVersion']}"}


def accept_notification_file(ctx) -> dict:
    try:
        doc = json.loads(ctx.path.read_bytes())
    except ValueError as exc:
        raise FileRejected("json", f"the file is not JSON ({exc})", fix="drop the notification as Amazon sent it")
    n = parse_notification(doc)
    added = record_event(ctx.db, platform="amazon", marketplace=n["marketplace"], models=n["models"],
                         source=n["source"], now=ctx.app.clock.now().isoformat())
    return {"notification": PTD_CHANGE, "marketplace": n["marketplace"], "recorded": added,
            "product_type_version": n["version"]}


# -- writing fetched models ------------------------------------------------------------------------
def _write_atomic(path: Path, data: bytes) -> None:
    write_atomic(path, data, private=False)  # data models: no buyer data, the group may read them


def write_model(root: Path, folder: str, marketplace: str, ref: str, doc: dict) -> Path:
    """Put what a channel fetched into the models folder, keeping the old version in history/."""
    fmt = doc.get("format")
    if fmt == "amazon.ptd":
        target = root / folder / marketplace / ref
        old_def = target / "definition.json"
        if old_def.is_file():
            try:
                old = json.loads(old_def.read_bytes())
                old_version = ((old.get("productTypeVersion") or {}).get("version") or "old") + "-" + \
                    ((old.get("schema") or {}).get("checksum") or "")[:8]
            except ValueError:
                old_version = "unreadable"
            hist = target / "history" / old_version.replace("/", "_")
            if not hist.exists():
                hist.mkdir(parents=True)
                for name in ("definition.json", "schema.json"):
                    if (target / name).is_file():
                        shutil.copy2(target / name, hist / name)
        for name, data in sorted((doc.get("files") or {}).items()):
            _write_atomic(target / name, data)
        if doc.get("meta_schema"):
            _write_atomic(root / folder / "_meta" / "meta-schema.json", doc["meta_schema"])
        return target
    if fmt == "ebay.aspects":
        base = root / folder / marketplace
        tree = doc.get("tree") or {}
        if tree:
            _write_atomic(base / "tree.json", json.dumps(tree, sort_keys=True, indent=1).encode())
        target = base / str(tree.get("categoryTreeId") or "0")
        for name, data in sorted((doc.get("files") or {}).items()):
            _write_atomic(target / name, data)
        return target
    raise MarketdError(f"a channel returned a data model in an unknown format {fmt!r}")


def known_checksum(root: Path, folder: str, marketplace: str, ref: str) -> str | None:
    path = root / folder / marketplace / ref / "definition.json"
    if not path.is_file():
        return None
    try:
        return ((json.loads(path.read_bytes()).get("schema") or {}).get("checksum")) or None
    except ValueError:
        return None


# -- what is in use --------------------------------------------------------------------------------
def refs_in_use(registry: Registry, products: dict) -> dict[str, dict[str, set[str]]]:
    """platform -> model reference -> SKUs using it (stored products plus the mapping)."""
    out: dict[str, dict[str, set[str]]] = {}
    for name, ps in registry.settings.platforms.items():
        per = out.setdefault(name, {})
        for sku, p in products.items():
            if ps.brands and p.brand not in ps.brands:
                continue
            ref, _ = registry.reference(name, ps, p)
            if ref:
                per.setdefault(ref, set()).add(sku)
        for table in (registry.mapping.get("categories") or {}).values():
            if isinstance(table, dict):
                for key in (name, ps.model_folder(name), ps.type):
                    if table.get(key):
                        per.setdefault(str(table[key]), set())
                        break
    return out


def _channel(app, name: str | None):
    if not name:
        return None
    try:
        ch = app.channel(name)
    except ConfigError as exc:
        log.warning("content models: %s", exc)
        return None
    caps = getattr(ch, "capabilities", None)
    if not getattr(caps, "data_models", False) or not hasattr(ch, "fetch_data_model"):
        log.warning("content models: channel %s (type %s) cannot fetch data models", name, getattr(ch, "type", "?"))
        return None
    return ch


def refresh(app, *, full: bool, events: list[dict] | None = None, only: set[str] | None = None) -> dict:
    """Fetch models through the channels; returns {"fetched": n, "changed": [(platform, ref)], "errors": [...]}."""
    settings = inbox_settings_for(app, "content")
    root = models_root(app, settings)
    registry = Registry(root, settings)
    products = rc.stored_products(app.store.db)
    use = refs_in_use(registry, products)
    out = {"fetched": 0, "changed": [], "errors": []}
    for name, ps in sorted(settings.platforms.items()):
        if only and name not in only:
            continue
        ch = _channel(app, ps.channel)
        if ch is None:
            continue
        wanted: set[str] = set()
        if full:
            wanted = set(use.get(name, {}))
        for ev in events or []:
            if ev["platform"] not in (ps.type, name):
                continue
            mkt = ev["marketplace"]
            if mkt and mkt not in (getattr(ch, "marketplace_id", ""), ps.marketplace_id or "", ps.marketplace):
                continue
            wanted |= set(use.get(name, {}))
        folder = ps.model_folder(name)
        market = ps.marketplace or name
        for ref in sorted(wanted):
            try:
                doc = ch.fetch_data_model(ref, known_checksum=known_checksum(root, folder, market, ref))
            except (TransientError, MarketdError) as exc:
                out["errors"].append(f"{name} {ref}: {exc}")
                log.warning("content models: %s %s: %s", name, ref, exc)
                continue
            out["fetched"] += 1
            if doc is None:
                continue
            write_model(root, folder, market, ref, doc)
            out["changed"].append((name, ref))
            log.info("content models: %s %s changed (version %s)", name, ref, doc.get("version"))
    return out


# -- the job ---------------------------------------------------------------------------------------
def changed_stamps(app) -> dict[str, dict[str, set[str]]]:
    """brand -> {"platform:model key" whose current stamp differs from the brand's latest run}."""
    settings = inbox_settings_for(app, "content")
    db = app.store.db
    registry = Registry(models_root(app, settings), settings)
    out: dict = {}
    for brand in rc.brands(db):
        latest = runs.latest_run(db, brand)
        if latest is None:
            continue
        seen = json.loads(latest["model_versions"] or "{}")
        for key, old in seen.items():
            plat, mkey = key.split(":", 1)
            ps = settings.platforms.get(plat)
            if ps is None:
                continue
            ref = mkey.split("/")[-1]
            m = registry.model(plat, ps, ref)
            now = m.stamp if m is not None else "missing"
            if now != old:
                out.setdefault(brand, {})[key] = (old, now)
    return out


def affected_skus(app, brand: str, keys: set[str]) -> set[str]:
    settings = inbox_settings_for(app, "content")
    registry = Registry(models_root(app, settings), settings)
    products = rc.stored_products(app.store.db, brand)
    out = set()
    for sku, p in products.items():
        for name, ps in settings.platforms.items():
            if ps.brands and p.brand not in ps.brands:
                continue
            ref, _ = registry.reference(name, ps, p)
            if ref and f"{name}:{registry.key_for(name, ps, ref)}" in keys:
                out.add(sku)
    return out


def models_job(app, since) -> dict:
    """Handle announced changes, refresh models (daily by default), re-check what changed."""
    settings = inbox_settings_for(app, "content")
    db = app.store.db
    now = app.clock.now()
    events = list(db.query("select * from content_model_events where handled_at is null order by id"))
    job = (app.config.get("jobs") or {}).get("content-models")
    days = float(getattr(job, "refresh_days", None) or 1.0) if job is not None else 1.0
    last = list(db.query("select received_at from content_model_events where source = 'scheduled-refresh' "
                         "order by id desc limit 1"))
    full = not last or now - datetime.fromisoformat(last[0]["received_at"]) >= timedelta(days=days)
    fetched = refresh(app, full=full, events=events) if (full or events) and settings.platforms else \
        {"fetched": 0, "changed": [], "errors": []}
    with app.store.transaction() as tx:
        for ev in events:
            tx["content_model_events"].update(ev["id"], {"handled_at": now.isoformat(),
                                                         "result": json.dumps({"changed": fetched["changed"]})})
        if full:
            tx["content_model_events"].insert({"platform": "*", "marketplace": "", "models": "[]",
                                               "source": "scheduled-refresh", "received_at": now.isoformat(),
                                               "handled_at": now.isoformat(),
                                               "result": json.dumps({"changed": fetched["changed"],
                                                                     "errors": fetched["errors"][:20]})})
    summaries = []
    for brand, keys in sorted(changed_stamps(app).items()):
        skus = affected_skus(app, brand, set(keys))
        label = "model-change-" + "+".join(sorted({k.split(":", 1)[1].replace("/", "_") for k in keys}))[:60]
        s = rc.recheck(app, brand, skus, "model_change", label=label) if skus else None
        if s is None:
            continue
        summaries.append(s)
        _model_change_reports(app, brand, keys, s)
    return {"events": len(events), "full_refresh": full, "fetched": fetched["fetched"],
            "changed": [f"{p}:{r}" for p, r in fetched["changed"]], "errors": fetched["errors"][:5],
            "rechecked": [{"brand": s["brand"], "run": s["run"], "skus": s["checked_skus"], "new": s["new"]}
                          for s in summaries]}


def _model_change_reports(app, brand: str, keys: dict, summary: dict) -> None:
    """``model-change-<platform>-<model>-<time>.csv``: per changed model, what is newly missing."""
    db = app.store.db
    run = summary["run"]
    prev = list(db.query("select previous_run from content_runs where id = ?", [run]))[0]["previous_run"]
    before = {i.key for i in runs.run_issues(db, prev)} if prev else set()
    rows_by_key: dict[str, list] = {k: [] for k in keys}
    model_of = {(c.sku, c.platform): f"{c.platform}:{c.model}" for c in runs.run_cells(db, run) if c.model}
    for i in runs.run_issues(db, run):
        if i.key in before or not i.missing:
            continue
        k = model_of.get((i.sku, i.platform))
        if k in rows_by_key:
            rows_by_key[k].append([i.sku, i.parent_sku, i.platform, i.locale, i.attribute, i.rule, i.severity,
                                   keys[k][0], keys[k][1]])
    stamp = app.clock.now().strftime("%Y%m%dT%H%M%SZ")
    folder = summary["report_dir"].rsplit("/", 1)[0]
    for k, rows in sorted(rows_by_key.items()):
        plat, model = k.split(":", 1)
        name = f"{folder}/model-change-{plat}-{model.replace('/', '_')}-{stamp}.csv"
        rows.sort()
        app.outbox.write(name, report.csv_bytes(["sku", "parent_sku", "platform", "locale", "attribute", "rule",
                                                 "severity", "old_stamp", "new_stamp"], rows))
        if rows:
            log.warning("content: %s model %s changed: %d SKU/attribute pairs newly missing for brand %s (%s)",
                        plat, model, len(rows), brand, name)
