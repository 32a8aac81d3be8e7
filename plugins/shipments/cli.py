"""``marketd shipments``: open shipments with their state and the carrier's last answer."""
from __future__ import annotations

import json
from functools import partial

import click

from marketd.sdk import shown_time


def _app(ctx):
    from marketd.sdk import build_app

    return build_app(ctx)


def list_shipments(app, open_only: bool = True, limit: int = 200) -> list[dict]:
    db = app.store.db
    if "shipments" not in db.table_names():
        return []
    where = "where s.open = 1 or p.state in ('waiting', 'retry', 'pushing', 'uncertain', 'failed')" if open_only else ""
    sql = (
        "select s.key, s.refs, s.carrier, s.tracking_number, s.status, s.status_at, s.checks, s.next_check_at, "
        "s.last_answer, s.created_at, group_concat(p.channel || ':' || p.state, ' ') as pushes "
        "from shipments s left join shipment_pushes p on p.shipment_key = s.key "
        f"{where} group by s.key order by s.created_at desc limit ?")
    return list(db.query(sql, [limit]))


def columns(header: list[str], rows: list[list[str]], right: set[str] = frozenset()) -> list[str]:
    """A text table whose columns are as wide as their longest value (nothing cut: order ids,
    MALL barcodes and ``channel:state`` pushes vary in length); the last column is left free."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header[:-1])]

    def fmt(values):
        cells = [v.rjust(w) if header[i] in right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))]
        return "  ".join(cells + [values[-1]]).rstrip()

    return [fmt(header)] + [fmt(r) for r in rows]


SYNC_WORDS = {"checks": "checked at the carrier", "first_scans": "scanned for the first time",
              "closed": "closed", "errors": "carrier errors", "pushed": "confirmed on a channel",
              "deferred": "left for the next round", "skipped": "skipped (carrier failing)",
              "push_retry": "channel pushes to retry", "push_failed": "channel pushes failed",
              "push_uncertain": "channel pushes uncertain", "push_skipped": "channel pushes skipped",
              "alerts": "problems reported in outbox/reports/shipment-exceptions-*.csv"}


def sync_text(app, stats: dict) -> str:
    """One line a person reads after `marketd shipments sync` (was the bare counters, ``{}`` when
    nothing was due)."""
    if stats:
        parts = [f"{n} {SYNC_WORDS.get(k) or k.replace('to_', 'now ').replace('_', ' ')}"
                 for k, n in sorted(stats.items())]
        return "tracking sync: " + ", ".join(parts)
    db = app.store.db
    if "shipments" not in db.table_names():
        return "tracking sync: no shipments yet"
    row = next(db.query("select count(*) n, min(next_check_at) nxt from shipments where open = 1"))
    if not row["n"]:
        return "tracking sync: nothing to do (no open shipments)"
    nxt = shown_time(row["nxt"], app.config["daemon"]["timezone"])
    return f"tracking sync: nothing due; {row['n']} open shipment(s), next check {nxt}"


def shipments_commands(cli) -> None:
    @cli.group("shipments", invoke_without_command=True)
    @click.option("--all", "show_all", is_flag=True, help="Also list closed (delivered, returned …) shipments.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @click.option("--limit", default=200, show_default=True)
    @click.pass_context
    def shipments(ctx, show_all, as_json, limit):
        """Open shipments: carrier, tracking number, state, channel push and the carrier's last answer."""
        if ctx.invoked_subcommand:
            return
        app = _app(ctx)
        when = partial(shown_time, tz=app.config["daemon"]["timezone"])
        rows = list_shipments(app, open_only=not show_all, limit=limit)
        if as_json:
            click.echo(json.dumps(rows, indent=2, default=str))
            return
        if not rows:
            click.echo("no open shipments" if not show_all else "no shipments")
            return
        table = [[r["key"], "|".join(json.loads(r["refs"] or "[]")), r["carrier"], r["tracking_number"] or "",
                  r["status"], str(r["checks"] or 0), when(r["next_check_at"]), r["pushes"] or "-",
                  " ".join((r["last_answer"] or "").split())] for r in rows]
        for line in columns(["shipment", "orders", "carrier", "tracking", "status", "checks", "next check", "push",
                             "last carrier answer"], table, right={"checks"}):
            click.echo(line)

    @shipments.command("show")
    @click.argument("key")
    @click.pass_context
    def show(ctx, key):
        """One shipment: parcels, status changes and channel pushes."""
        app = _app(ctx)
        when = partial(shown_time, tz=app.config["daemon"]["timezone"])
        db = app.store.db
        rows = list(db.query("select * from shipments where key = ? or tracking_number = ? or shipment_id = ?",
                             [key, key, key]))
        if not rows:
            raise click.ClickException(f"no shipment {key}")
        s = rows[0]
        for k, v in s.items():
            if k != "meta":
                click.echo(f"{k:16} {v if v is not None else ''}")
        click.echo("parcels:")
        for p in db.query("select * from shipment_parcels where shipment_key = ? order by n", [s["key"]]):
            click.echo(f"  {p['n']}: {p['parcel_number']} tracking {p['tracking_number']} label {p['label_file'] or '-'}")
        click.echo("status changes:")
        for e in db.query("select * from shipment_events where shipment_key = ? order by id", [s["key"]]):
            click.echo(f"  {when(e['recorded_at'])} {e['old_status'] or '-'} -> {e['new_status']}  "
                       f"{e['code']} {e['description']}")
        click.echo("channel pushes:")
        for p in db.query("select * from shipment_pushes where shipment_key = ?", [s["key"]]):
            click.echo(f"  {p['order_key']}: {p['state']} (attempts {p['attempts']}, pushed {when(p['pushed_at'])}) "
                       f"{p['error'] or ''}")

    @shipments.command("sync")
    @click.option("--json", "as_json", is_flag=True, help="The round's counters as JSON.")
    @click.pass_context
    def sync(ctx, as_json):
        """Run one tracking-sync round now."""
        from .tracking import tracking_sync

        app = _app(ctx)
        stats = tracking_sync(app)
        if as_json:
            click.echo(json.dumps(stats, sort_keys=True))
            return
        click.echo(sync_text(app, stats))

    @shipments.command("push")
    @click.argument("key")
    @click.option("--order", "order_key", default=None, help="Only this order key (<channel>:<order_id>).")
    @click.option("--force", is_flag=True, help="Release an 'uncertain' or 'failed' push after checking the channel.")
    @click.pass_context
    def push(ctx, key, order_key, force):
        """Push a shipment's tracking to its channel(s) now."""
        from collections import Counter

        from .policy import tracking_policy
        from .tracking import push_ready

        app = _app(ctx)
        states = ("uncertain", "failed", "skipped", "retry") if force else ("retry",)
        sql = ("update shipment_pushes set state = 'waiting', owner = null, next_attempt_at = null "
               f"where shipment_key = ? and state in ({','.join('?' * len(states))})")
        params = [key, *states]
        if order_key:
            sql += " and order_key = ?"
            params.append(order_key)
        with app.store.transaction() as db:
            db.execute(sql, params)
        stats: Counter = Counter()
        alerts: list = []
        for p in list(app.store.db.query("select order_key from shipment_pushes where shipment_key = ? and "
                                         "state = 'waiting'", [key])):
            if order_key and p["order_key"] != order_key:
                continue
            push_ready(app, tracking_policy(app), stats, alerts, only=(key, p["order_key"]))
        click.echo(json.dumps(dict(stats) or {"pushed": 0}, sort_keys=True))
        for a in alerts:
            click.echo("problem: " + a[6], err=True)

    @shipments.command("unresolved")
    @click.pass_context
    def unresolved(ctx):
        """Carrier calls that may have created a shipment without a recorded answer (after a crash)."""
        from .ledger import Ledger

        app = _app(ctx)
        rows = Ledger.for_app(app).unresolved()
        known = {r["key"] for r in app.store.db.query("select key from shipments")} \
            if "shipments" in app.store.db.table_names() else set()
        rows = [r for r in rows if r["key"] not in known]
        if not rows:
            click.echo("none")
        for r in rows:
            click.echo(f"{r['key']} {r['carrier']} {r['state']} attempts={r['attempts']} since {shown_time(r['started_at'], app.config['daemon']['timezone'])}")
