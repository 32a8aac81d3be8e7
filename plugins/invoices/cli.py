"""``marketd invoices``: the documents issued, the blocked orders, the gap check, and issuing or
crediting one order by hand."""
from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

import click


def _app(ctx):
    from marketd.sdk import build_app

    return build_app(ctx)


def _order(app, ref: str) -> dict:
    rows = app.store.find_orders_by_ref(ref)
    if not rows:
        raise click.ClickException(f"no order {ref} (see `marketd orders list`)")
    if len(rows) > 1:
        raise click.ClickException(f"{ref} names {len(rows)} orders ({', '.join(r['key'] for r in rows)}): give the key")
    return rows[0]


def invoice_commands(cli) -> None:
    @cli.group("invoices", invoke_without_command=True)
    @click.option("--order", "ref", help="Only this order (key, id or alias).")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @click.option("--limit", default=50, show_default=True)
    @click.pass_context
    def invoices(ctx, ref, as_json, limit):
        """Invoices and credit notes issued, newest first."""
        if ctx.invoked_subcommand:
            return
        app = _app(ctx)
        where, params = "", []
        if ref:
            where, params = " where order_key = ?", [_order(app, ref)["key"]]
        rows = list(app.store.db.query(
            "select doc_no, kind, order_key, issue_date, currency, total_gross, total_vat, state, pdf_path "
            f"from documents{where} order by id desc limit ?", [*params, limit]))
        if as_json:
            click.echo(json.dumps(rows, indent=1))
            return
        for r in rows:
            click.echo(f"{r['doc_no']:<24} {r['kind']:<11} {r['issue_date']}  {r['total_gross']:>10} {r['currency']}  "
                       f"{r['state']:<9} {r['order_key']}")
        if not rows:
            click.echo("no documents")

    @invoices.command("blocked")
    @click.pass_context
    def blocked(ctx):
        """Orders that got no document, and why (no number was used for them)."""
        rows = list(_app(ctx).store.db.query("select * from documents_blocked order by at"))
        for r in rows:
            click.echo(f"{r['order_key']}  {r['kind']}  {r['reason']}: {r['message']}" + (f" ({r['fix']})" if r["fix"]
                                                                                           else ""))
        if not rows:
            click.echo("nothing blocked")

    @invoices.command("check")
    @click.pass_context
    def check(ctx):
        """Every series gap-free (numbers 1..n once each) and every file present with its sha256."""
        import hashlib
        from pathlib import Path

        from .numbering import check as gaps

        db = _app(ctx).store.db
        problems = gaps(db)
        for r in db.query("select doc_no, state, pdf_path, pdf_sha256 from documents"):
            if r["state"] != "published":
                problems.append(f"{r['doc_no']}: not rendered yet ({r['state']})")
                continue
            p = Path(r["pdf_path"])
            if not p.is_file():
                problems.append(f"{r['doc_no']}: file {p} is missing")
            elif hashlib.sha256(p.read_bytes()).hexdigest() != r["pdf_sha256"]:
                problems.append(f"{r['doc_no']}: file {p} was changed after issue")
        for line in problems:
            click.echo(line)
        if problems:
            raise SystemExit(1)
        click.echo("ok: every series gap-free, every file intact")

    @invoices.command("issue")
    @click.argument("ref")
    @click.pass_context
    def issue_cmd(ctx, ref):
        """Issue the invoice of one order now, whatever its status (once: an issued one is shown)."""
        from .issuer import issue_invoice
        from .render import find_font
        from .settings import invoice_settings

        app = _app(ctx)
        settings = invoice_settings(app)
        order = _order(app, ref)
        row = issue_invoice(app, settings, order, find_font(settings.font), explicit=True)
        _report(app, row, order["key"], "invoice")

    @invoices.command("credit")
    @click.argument("ref")
    @click.option("--amount", help="Gross amount refunded (default: all that is left on the invoice).")
    @click.option("--refund-id", required=True, help="The refund's id: one credit note per refund.")
    @click.pass_context
    def credit_cmd(ctx, ref, amount, refund_id):
        """Issue a credit note for a refund of ORDER, referencing its invoice."""
        from .issuer import issue_credit
        from .render import find_font
        from .settings import invoice_settings

        value = None
        if amount is not None:
            try:
                value = Decimal(amount)
            except InvalidOperation:
                raise click.BadParameter(f"{amount!r} is not an amount (write 12.50)", param_hint="--amount")
        app = _app(ctx)
        settings = invoice_settings(app)
        order = _order(app, ref)
        row = issue_credit(app, settings, order, find_font(settings.font), trigger_key=f"refund:{refund_id}",
                           amount=value)
        _report(app, row, order["key"], "credit_note")


    @invoices.command("uploads")
    @click.option("--all", "show_all", is_flag=True, help="Also the ones done.")
    @click.pass_context
    def uploads(ctx, show_all):
        """Uploads to the marketplaces: waiting, pending (a person uploads), uncertain, failed."""
        where = "" if show_all else " where u.state != 'done'"
        rows = list(_app(ctx).store.db.query(
            "select d.doc_no, u.channel, u.mode, u.state, u.attempts, u.reason, u.remote_ref from document_uploads u "
            f"join documents d on d.id = u.doc_id{where} order by u.doc_id"))
        for r in rows:
            click.echo(f"{r['doc_no']:<24} {r['channel']:<14} {r['state']:<9} {r['mode']:<6} "
                       + (r["remote_ref"] or r["reason"] or ""))
        if not rows:
            click.echo("nothing to upload")

    def _upload_row(app, doc_no: str) -> dict:
        rows = list(app.store.db.query("select u.* from document_uploads u join documents d on d.id = u.doc_id "
                                       "where d.doc_no = ?", [doc_no]))
        if not rows:
            raise click.ClickException(f"{doc_no} has no upload (see `marketd invoices uploads`)")
        return rows[0]

    @invoices.command("upload")
    @click.argument("doc_no")
    @click.option("--force", is_flag=True, help="Send an uncertain or failed one again (check the marketplace first).")
    @click.pass_context
    def upload_cmd(ctx, doc_no, force):
        """Upload one document now (also for an order flagged manual: you named it)."""
        from .upload import upload_one

        app = _app(ctx)
        row = _upload_row(app, doc_no)
        allowed = ("waiting", "uncertain", "failed") if force else ("waiting",)
        if row["mode"] != "api" or row["state"] not in allowed:
            raise click.ClickException(f"{doc_no} is {row['state']} ({row['mode']})"
                                       + ("; --force sends it again" if row["state"] in ("uncertain", "failed") else ""))
        with app.store.transaction() as db:
            db.execute("update document_uploads set state = 'waiting', owner = null, next_attempt_at = null "
                       "where doc_id = ?", [row["doc_id"]])
        state = upload_one(app, row["doc_id"], explicit=True)
        click.echo(f"{doc_no}: {state}")
        if state != "done":
            raise SystemExit(1)

    @invoices.command("mark-uploaded")
    @click.argument("doc_no")
    @click.option("--by", help="Who uploaded it (default: $SUDO_USER or $USER).")
    @click.option("--ref", help="The marketplace's reference, if it gave one.")
    @click.pass_context
    def mark_uploaded(ctx, doc_no, by, ref):
        """Record that a person uploaded DOC_NO in the marketplace's portal."""
        import os

        app = _app(ctx)
        row = _upload_row(app, doc_no)
        if row["state"] == "done":
            click.echo(f"{doc_no}: uploaded already")
            return
        who = by or os.environ.get("SUDO_USER") or os.environ.get("USER") or "unknown"
        now = app.clock.now().isoformat()
        with app.store.transaction() as db:
            db.execute("update document_uploads set state = 'done', done_at = ?, done_by = ?, remote_ref = ?, "
                       "owner = null, updated_at = ? where doc_id = ?", [now, who, ref or f"manual:{who}", now,
                                                                         row["doc_id"]])
        click.echo(f"{doc_no}: recorded as uploaded by {who}")


def _report(app, row, order_key: str, kind: str) -> None:
    if row is None:
        b = next(app.store.db.query("select * from documents_blocked where order_key = ? and kind = ?",
                                    [order_key, kind]), None)
        why = f"{b['reason']}: {b['message']}" + (f" ({b['fix']})" if b and b["fix"] else "") if b else "not due"
        raise click.ClickException(f"no {kind.replace('_', ' ')} for {order_key}: {why}")
    click.echo(f"{row['doc_no']} {row['total_gross']} {row['currency']} {row['pdf_path']}")
