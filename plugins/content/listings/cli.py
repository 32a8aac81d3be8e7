"""``marketd listings``: local vs remote side by side; ``listings sync`` pulls or pushes now;
``listings audit`` writes the deviations reports now."""
from __future__ import annotations

import json

import click

from marketd.sdk import build_app


def _rows(app, platform, sku, status, drift_only) -> list[dict]:
    db = app.store.db
    if not db["listing_pushes"].exists():
        return []
    sql = ("select p.platform, p.sku, c.brand, rl.title remote_title, rl.price remote_price, rl.currency, "
           "rl.quantity remote_quantity, rl.live, rl.present, rl.status remote_status, rl.remote_id, "
           "lp.state push_state, lp.accepted_at, "
           "(select count(*) from listing_deviations d where d.platform = p.platform and d.sku = p.sku and d.open = 1 "
           " and d.severity = 'ERROR') errors, "
           "(select group_concat(d.state) from listing_deviations d where d.platform = p.platform and d.sku = p.sku "
           " and d.open = 1 and d.state != '') states "
           "from content_payloads p join content_products c on c.sku = p.sku "
           "left join remote_listings rl on rl.platform = p.platform and rl.sku = p.sku "
           "left join listing_pushes lp on lp.platform = p.platform and lp.sku = p.sku and lp.kind = 'content' "
           "where 1=1")
    args: list = []
    if platform:
        sql += " and p.platform = ?"
        args.append(platform)
    if sku:
        sql += " and p.sku = ?"
        args.append(sku)
    out = []
    catalog = {}
    if db["products"].exists():
        catalog = {r["sku"]: r for r in db.query("select sku, title, price, stock from products")}
    for r in db.query(sql + " order by p.platform, p.sku", args):
        r = dict(r)
        cat = catalog.get(r["sku"]) or {}
        r.update(local_price=cat.get("price"), local_stock=cat.get("stock"))
        states = set(filter(None, (r.pop("states") or "").split(",")))
        r["status"] = ("blocked" if "blocked" in states else "hidden" if "hidden" in states else
                       "live" if r["live"] else "pending" if r["push_state"] in ("pending", "submitted") or not r["present"]
                       else "not live")
        r["drift"] = bool(r["errors"])
        if status and r["status"] != status:
            continue
        if drift_only and not r["drift"]:
            continue
        out.append(r)
    return out


def status_lines(db) -> list[str]:
    """``marketd status``: per platform what is live, what waits, what failed, open deviations."""
    out = []
    for r in db.query("select platform, sum(state = 'accepted') ok, sum(state in ('pending', 'submitted')) flying, "
                      "sum(state = 'invalid') invalid, sum(state = 'failed') failed from listing_pushes "
                      "where kind = 'content' group by platform order by platform"):
        live = db.execute("select count(*) from remote_listings where platform = ? and live = 1",
                          [r["platform"]]).fetchone()[0]
        errors = db.execute("select count(*) from listing_deviations where platform = ? and open = 1 and "
                            "severity = 'ERROR'", [r["platform"]]).fetchone()[0]
        out.append(f"listings {r['platform']}: {r['ok']} accepted, {r['flying']} in flight, {r['invalid']} invalid, "
                   f"{r['failed']} failed; {live} live; {errors} open audit error(s)")
    return out


def listings_commands(cli) -> None:
    @cli.group("listings", invoke_without_command=True)
    @click.option("--platform", help="only this content platform (e.g. amazon_de)")
    @click.option("--sku")
    @click.option("--status", type=click.Choice(["live", "pending", "blocked", "hidden", "not live"]))
    @click.option("--drift-only", is_flag=True, help="only listings with an open ERROR deviation")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def listings(ctx, platform, sku, status, drift_only, as_json):
        """Listings: what was pushed, what each platform shows, and where they differ."""
        if ctx.invoked_subcommand:
            return
        app = build_app(ctx)
        try:
            rows = _rows(app, platform, sku, status, drift_only)
        finally:
            app.close()
        if as_json:
            click.echo(json.dumps(rows, indent=1, default=str))
            return
        for r in rows:
            click.echo(f"{r['platform']:<12} {r['sku']:<20} {r['status']:<9} push={r['push_state'] or '-':<9} "
                       f"price {r['local_price'] or '-'} / {r['remote_price'] or '-'}  stock {r['local_stock'] if r['local_stock'] is not None else '-'}"
                       f" / {r['remote_quantity'] if r['remote_quantity'] is not None else '-'}  "
                       f"{'DRIFT ' + str(r['errors']) if r['drift'] else ''}")
        if not rows:
            click.echo("no listings (yet): content must be checked, approved in [inbox.content.listings] allow, pushed")

    @listings.command("sync")
    @click.option("--pull", "do_pull", is_flag=True, help="pull remote listings (and audit them)")
    @click.option("--push", "do_push", is_flag=True, help="push content and price/stock now")
    @click.option("--platform", multiple=True)
    @click.pass_context
    def sync(ctx, do_pull, do_push, platform):
        """Run the push and/or pull now (both when neither flag is given)."""
        from . import deviations, pull, push

        app = build_app(ctx)
        only = set(platform) or None
        try:
            if do_push or not do_pull:
                click.echo(json.dumps({"push": push.push(app, platforms=only)}, default=str, sort_keys=True))
            if do_pull or not do_push:
                click.echo(json.dumps({"pull": pull.pull(app, platforms=only),
                                       "audit": deviations.run_audit(app, platforms=only)}, default=str, sort_keys=True))
        finally:
            app.close()

    @listings.command("audit")
    @click.option("--platform", multiple=True)
    @click.pass_context
    def audit_cmd(ctx, platform):
        """Audit the pulled listings against the supplied content now (deviations reports)."""
        from . import deviations

        app = build_app(ctx)
        try:
            click.echo(json.dumps(deviations.run_audit(app, platforms=set(platform) or None), default=str,
                                  sort_keys=True))
        finally:
            app.close()
