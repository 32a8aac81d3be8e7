"""``marketd orders list``, ``show``, ``mark-manual`` and ``unmark-manual``: the orders of every
channel, and the manual-operation flag (:mod:`marketd.orderflags`).

The order part is the core's (the ``orders`` table); what the marketplaces' payouts moved for
an order comes through the ``order_finance`` hook (the built-in ``settlements`` plugin answers
it), so without that plugin the commands still list and show orders, without finance.
``orders list --json`` never holds buyer data (``buyer_name``, ``ship_to``, ``raw``): it is
what scripts and the sandbox docs copy ids from.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import click

from .orderstatus import ORDER_STATUSES

PRIVATE = ("buyer_name", "ship_to", "raw")
LABELS = {
    "revenue": "revenue (price, shipping, tax collected)",
    "marketplace_fee": "fees paid to the marketplace",
    "shipping_label": "shipping labels bought there",
    "refund": "refunds",
    "withheld_tax": "tax withheld by the marketplace",
    "promotion": "promotions",
    "other": "other",
    "unclassified": "unclassified",
    "net": "net paid out for this order",
}


def _amount(text: str | None) -> str:
    """An order total for the table, with at least two decimals (MALL writes ``578.0``, Amazon
    ``109.40``); the stored value stays the marketplace's own."""
    if not text:
        return ""
    try:
        value = Decimal(text)
    except ArithmeticError:
        return text
    if not value.is_finite():
        return text
    return format(value, "f") if value.as_tuple().exponent < -2 else format(value.quantize(Decimal("0.01")), "f")


def _since(text: str | None) -> str | None:
    """``--since``: an ISO date/time, or ``Nd``: from the start (UTC) of the day N days ago, so
    ``0d`` is today and ``1d`` yesterday and today (a new user's ``--since 0d`` found nothing when it
    meant "now")."""
    if not text:
        return None
    if text.endswith("d") and text[:-1].isdigit():
        day = datetime.now(timezone.utc).date() - timedelta(days=int(text[:-1]))
        return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).isoformat()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: use a date (2026-08-01), a time (2026-08-01T10:00:00+00:00) or Nd",
                                 param_hint="--since")
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat()


def _finance(app, keys: list[str], refs=()) -> dict:
    if not keys and not refs:
        return {}
    return app.hook.order_finance(app=app, order_keys=list(keys), refs=list(refs)) or {}


def _public(order: dict) -> dict:
    out = {k: v for k, v in order.items() if k not in PRIVATE}
    try:
        out["items"] = json.loads(out.get("items") or "[]")
    except ValueError:
        pass
    return out


def _money(value, currency) -> str:
    if value in (None, ""):
        return "-"
    return f"{Decimal(value):>12} {currency or ''}".rstrip()


def _one_currency(totals: list[dict], key: str) -> str:
    if not totals:
        return ""
    if len(totals) > 1:
        return "(" + ", ".join(f"{t[key]} {t['currency']}" for t in totals) + ")"
    return totals[0][key]


def _one_order(app, ref: str) -> dict:
    found = app.store.find_orders_by_ref(ref)
    if not found:
        raise click.ClickException(f"no order {ref} (see `marketd orders list`)")
    if len(found) > 1:
        raise click.ClickException(f"{ref} names {len(found)} orders ({', '.join(o['key'] for o in found)}): give the key")
    return found[0]


def _who(by: str | None) -> str:
    import os

    return by or os.environ.get("SUDO_USER") or os.environ.get("USER") or "unknown"


def orders_commands(cli) -> None:
    from .cli import build_app
    from .orderflags import manual_flag, mark_manual, unmark_manual

    def flag_command(name: str, setting: bool):
        @orders.command(name, help=(
            "Flag ORDER as handled by hand in the marketplace's portal: tracking sync, invoice upload and "
            "actions skip it from now on, with the reason shown." if setting else
            "Clear the manual-operation flag of ORDER: the automatic paths act on it again."))
        @click.argument("order")
        @click.option("--reason", required=True, help="What was done by hand (kept with the flag).")
        @click.option("--by", help="Who (default: $SUDO_USER or $USER).")
        @click.pass_context
        def command(ctx, order, reason, by):
            app = build_app(ctx)
            key = _one_order(app, order)["key"]
            at = app.clock.now().isoformat()
            if setting:
                changed = mark_manual(app.store, key, by=_who(by), reason=reason, source="cli", at=at)
            else:
                changed = unmark_manual(app.store, key, by=_who(by), reason=reason, at=at)
            state = "flagged as handled by hand" if setting else "no longer flagged"
            click.echo(f"{key}: {state}" + ("" if changed else " (already)"))

        command.__doc__ = ("Flag ORDER as handled by hand in the marketplace's portal: the tracking push, invoicing "
                           "and actions skip it from now on." if setting else
                           "Clear the manual-operation flag of ORDER: automatic paths act on it again.")
        return command

    @cli.group("orders")
    def orders():
        """Orders imported from the channels."""

    @orders.command("list")
    @click.option("--channel", help="An account name ([channels.<name>]) or a channel type (amazon, ebay …).")
    @click.option("--status", type=click.Choice(ORDER_STATUSES, case_sensitive=False),
                  help="A normalised status (the channel's own word is in channel_status).")
    @click.option("--since", help="Purchased on or after: a date, a time, or Nd (since the start of the day "
                                  "N days ago; 0d: today).")
    @click.option("--limit", default=100, show_default=True, help="At most this many (newest first); 0: all.")
    @click.option("--finance", is_flag=True, help="Also what the payouts moved: fee and net per order.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable (no buyer data).")
    @click.pass_context
    def list_(ctx, channel, status, since, limit, finance, as_json):
        """Orders of every channel, newest first."""
        app = build_app(ctx)
        rows = app.store.list_orders(channel=channel, status=status.upper() if status else None, since=_since(since),
                                     limit=limit or None)
        money = _finance(app, [r["key"] for r in rows]) if finance else {}
        if as_json:
            out = []
            for r in rows:
                item = _public(r)
                if finance:
                    item["finance"] = (money.get(r["key"]) or {}).get("totals", [])
                out.append(item)
            click.echo(json.dumps(out, indent=2, default=str))
            return
        head = f"{'key':<36} {'channel':<14} {'order_id':<22} {'status':<17} {'purchased':<10} {'total':>12} cur"
        if finance:
            head += f" {'fee':>12} {'net':>12}"
        click.echo(head)
        for r in rows:
            line = (f"{r['key']:<36} {r['channel'] or '':<14} {r['order_id'] or '':<22} {r['status'] or '':<17} "
                    f"{(r['purchased_at'] or '')[:10]:<10} {_amount(r['total']):>12} {r['currency'] or ''}")
            if finance:
                totals = (money.get(r["key"]) or {}).get("totals", [])
                line += f" {_one_currency(totals, 'marketplace_fee'):>12} {_one_currency(totals, 'net'):>12}"
            click.echo(line)
        if not rows:
            click.echo("no orders")
            if not app.channels:
                click.echo("no channel is configured yet: add a [channels.NAME] section to marketd.toml "
                           "(each channel plugin documents its settings in docs/plugins/) and set orders_sync = true; "
                           "`marketd sandbox` tries it against the fakes without accounts")

    list_.name = "list"
    flag_command("mark-manual", True)
    flag_command("unmark-manual", False)

    @orders.command("show")
    @click.argument("order")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @click.pass_context
    def show(ctx, order, as_json):
        """One order (by key, order id, merchant order id or another id of it, such as the one a
        payout named it by) and what the marketplace's payouts moved for it: revenue, fees paid
        to the marketplace (per kind), shipping labels, refunds, withheld tax, promotions, net."""
        app = build_app(ctx)
        found = app.store.find_orders_by_ref(order)
        refs = sorted({order} | {o["order_id"] for o in found if o.get("order_id")})
        money = _finance(app, [o["key"] for o in found], refs)
        unmatched = [line for lines in (money.get("unmatched") or {}).values() for line in lines]
        if not found and not unmatched:
            raise click.ClickException(f"no order {order} (and no payout line for that id)")
        if as_json:
            view = {"orders": [{k: v for k, v in o.items() if k != "raw"} for o in found], "finance": [],
                    "payouts": [], "fees": [], "unmatched": unmatched}
            for o in found:
                f = money.get(o["key"])
                if f:
                    view["finance"] += [{"order_key": o["key"], **t} for t in f["totals"]]
                    view["payouts"] += [{"order_key": o["key"], **p} for p in f["payouts"]]
                    view["fees"] += [{"order_key": o["key"], **x} for x in f["fees"]]
            click.echo(json.dumps(view, indent=2, default=str))
            return
        width = max(len(v) for v in LABELS.values())
        for o in found:
            click.echo(f"order       {o['key']}")
            for k in ("channel", "order_id", "merchant_order_id", "status", "channel_status", "purchased_at",
                      "updated_at"):
                click.echo(f"  {k:18} {o.get(k) or ''}")
            click.echo(f"  {'total':18} {_money(o.get('total'), o.get('currency'))}")
            try:
                items = json.loads(o.get("items") or "[]")
            except ValueError:
                items = []
            for it in items:
                mark = "  [personalised]" if it.get("customized_url") else ""  # Amazon Custom: see outbox/custom/
                click.echo(f"  item: {it.get('quantity') or ''} x {it.get('sku') or ''} {it.get('title') or ''}".rstrip()
                           + mark)
            flag = manual_flag(app.store.db, o["key"])
            if flag:
                click.echo(f"  MANUAL: handled by hand (by {flag['set_by'] or '?'} at {flag['set_at']}: "
                           f"{flag['reason'] or 'no reason given'}); automatic paths skip this order")
            f = money.get(o["key"])
            if not f:
                fee = f", the marketplace announced a fee of {o['expected_fee']}" if o.get("expected_fee") else ""
                click.echo(f"finance: not in any payout yet{fee}")
                continue
            ids = ", ".join(dict.fromkeys(p["payout_id"] for p in f["payouts"]))
            for t in f["totals"]:
                cur = t["currency"]
                click.echo(f"finance     {o['key']} in {cur} (payouts: {ids})")
                for c, label in LABELS.items():
                    if c in ("shipping_label",) and Decimal(t[c]) == 0:
                        continue
                    click.echo(f"  {label:{width}} {_money(t[c], cur)}")
                    if c == "marketplace_fee":
                        for x in f["fees"]:
                            if x["category"] == "marketplace_fee" and x["currency"] == cur:
                                click.echo(f"    {x['subtype'] or 'unspecified':{width - 2}} {_money(x['amount'], cur)}")
                if t.get("fee_pct") is not None:
                    click.echo(f"  {'fee % of revenue':{width}} {t['fee_pct']:>12} %")
            for p in f["payouts"]:
                click.echo(f"  payout {p['payout_id']} ({p['channel_type']}, {p['status']}, paid "
                           f"{(p.get('paid_at') or '')[:10] or '?'}): revenue {p['revenue']}, fees "
                           f"{p['marketplace_fee']}, refunds {p['refund']}, net {p['net']} {p['currency'] or ''}")
        for u in unmatched:
            click.echo(f"unmatched payout line {u['payout_key']} order {u['order_ref']}: net {u['net']} "
                       f"{u['currency'] or ''} (no stored order with this id)")
