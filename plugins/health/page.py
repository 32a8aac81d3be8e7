"""The health page per account (``outbox/health/<account>/index.html``), refreshed by the
``health-page`` job: self-contained HTML (no script, no external file), readable where the
outbox is shared. It shows the account status, metric trends as inline SVG sparklines, open
alerts, the VoC poor list, the SKUs with the most returns, open cases, the GPSR count and the
schema drift of the last days (how far Amazon's documents were from their documented shape)."""
from __future__ import annotations

import html
from datetime import timedelta
from decimal import Decimal

from . import alerts, drift
from .gpsr import write_view


DRIFT_DAYS = 30


def _e(v) -> str:
    return html.escape("" if v is None else str(v))


def sparkline(values: list[Decimal], w: int = 120, h: int = 24) -> str:
    if len(values) < 2:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or Decimal(1)
    pts = " ".join(f"{i * w / (len(values) - 1):.1f},{h - float((v - lo) / span) * (h - 2) - 1:.1f}"
                   for i, v in enumerate(values))
    return (f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}"><polyline fill="none" stroke="#555" '
            f'stroke-width="1.5" points="{pts}"/></svg>')


def accounts(app) -> list[str]:
    """Accounts with anything to show: a daemon with no health data writes no page (every
    instance loads this plugin; its outbox stays as it was until there is something to say)."""
    from .gpsr import at_risk

    db = app.store.db
    names = {r[0] for r in db.execute("select distinct account from health_alerts union select distinct account "
                                      "from health_metrics")}
    found = sorted(n for n in names if n is not None)
    if not found and at_risk(db):
        found = [""]
    return found


def render(app, account: str) -> str:
    db = app.store.db
    now = app.clock.now()
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>Health {_e(account)}</title>"
           "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
           "padding:2px 6px;font-size:13px}.critical{background:#f8b4b4}.high{background:#fcd9b6}"
           ".medium{background:#fdf3b8}</style></head><body>",
           f"<h1>Account health: {_e(account or '(no account)')}</h1><p>updated {_e(now.isoformat()[:16])} UTC</p>"]
    out.append("<h2>Metrics</h2><table><tr><th>marketplace</th><th>metric</th><th>status</th><th>rate</th>"
               "<th>target</th><th>trend</th></tr>")
    series: dict[tuple, list] = {}
    for r in db.query("select * from health_metrics where account = ? order by reporting_to", [account]):
        series.setdefault((r["marketplace"], r["metric"], r["sub"]), []).append(r)
    for (mkt, metric, sub), rows in sorted(series.items()):
        last = rows[-1]
        vals = [Decimal(r["rate"]) if r["rate"] else Decimal(r["count"] or 0) for r in rows]
        out.append(f"<tr><td>{_e(mkt)}</td><td>{_e(metric + ('.' + sub if sub else ''))}</td><td>{_e(last['status'])}"
                   f"</td><td>{_e(last['rate'] or last['count'])}</td><td>{_e(last['target_condition'])} "
                   f"{_e(last['target_value'])}</td><td>{sparkline(vals)}</td></tr>")
    out.append("</table><h2>Open alerts</h2><table><tr><th>#</th><th>severity</th><th>marketplace</th><th>brand</th>"
               "<th>SKU</th><th>title</th><th>first seen</th></tr>")
    for a in alerts.open_alerts(db):
        if a["account"] != account:
            continue
        out.append(f"<tr class='{_e(a['severity'])}'><td>{a['id']}</td><td>{_e(a['severity'])}</td>"
                   f"<td>{_e(a['marketplace'])}</td><td>{_e(a['brand'])}</td><td>{_e(a['sku'])}</td>"
                   f"<td>{_e(a['title'])}</td><td>{_e(a['first_seen'][:10])}</td></tr>")
    out.append("</table><h2>Voice of the Customer: poor and very poor</h2><table><tr><th>ASIN</th><th>SKU</th>"
               "<th>brand</th><th>rating</th><th>NCX</th><th>top reason</th></tr>")
    for r in db.query("select * from health_voc where account = ? and rating in ('poor', 'very_poor') order by "
                      "rating desc, asin", [account]):
        out.append(f"<tr><td>{_e(r['asin'])}</td><td>{_e(r['sku'])}</td><td>{_e(r['brand'])}</td>"
                   f"<td>{_e(r['rating_label'])}</td><td>{_e(r['ncx_rate'])}</td><td>{_e(r['top_reason'])}</td></tr>")
    out.append("</table><h2>Most returned SKUs</h2><table><tr><th>SKU</th><th>units</th><th>top reason</th></tr>")
    for r in db.query("select sku, sum(quantity) q, (select reason from health_returns r2 where r2.account = "
                      "r.account and r2.sku = r.sku group by reason order by sum(quantity) desc limit 1) reason "
                      "from health_returns r where account = ? group by sku order by q desc limit 20", [account]):
        out.append(f"<tr><td>{_e(r['sku'])}</td><td>{r['q']}</td><td>{_e(r['reason'])}</td></tr>")
    out.append("</table><h2>Open cases and requests</h2><table><tr><th>id</th><th>kind</th><th>deadline</th>"
               "<th>subject</th></tr>")
    for c in db.query("select * from health_cases where status = 'open' and (account = ? or account = '') order by "
                      "deadline", [account]):
        late = " class='high'" if c["deadline"] < now.isoformat() else ""
        out.append(f"<tr{late}><td>{_e(c['id'])}</td><td>{_e(c['kind'])}</td><td>{_e(c['deadline'][:10])}</td>"
                   f"<td>{_e(c['subject'])}</td></tr>")
    since = (now - timedelta(days=DRIFT_DAYS)).isoformat()
    total, paths = drift.recent(db, since, account)
    out.append(f"</table><h2>Schema drift</h2><p>schema drift: {total} (deviations from Amazon's documented "
               f"shapes in the last {DRIFT_DAYS} days; counted, nothing refused)</p>")
    if paths:
        out.append("<table><tr><th>where</th><th>times</th></tr>")
        out += [f"<tr><td>{_e(p)}</td><td>{n}</td></tr>" for p, n in paths.most_common(10)]
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


def write_pages(app) -> dict:
    written = {}
    for account in accounts(app):
        gp = write_view(app, account)
        path = app.outbox.write(f"health/{account or '_'}/index.html", render(app, account), policy="replace")
        written[account] = {"page": path.name, "gpsr_at_risk": gp["skus"]}
    return written
