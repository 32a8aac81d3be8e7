"""The data-link endpoint: a small read-only HTTP server inside the daemon (stdlib WSGI).

Routes: ``GET|HEAD /l/<token>/<link>.csv`` (the brand's three files), ``/healthz`` and Prometheus
``/metrics`` for the operator. No login (seeds 000): the secret is the token in the URL, stored
only as its hash. An unknown, revoked or malformed token and an unknown file name all get the
same 404, byte for byte, so a guess learns nothing about which brands exist. No buyer data is
ever served: the files are sums per day × platform × SKU.

Why the stdlib server: no dependency, and with a backlog of 128 (the default 5 made SYN retries
a 1 s p95 under 50 readers) and one thread per connection it serves the files fast enough
(bench/brands_bench.py). It binds to loopback by default; the docs put a TLS proxy in front.
"""
from __future__ import annotations

import json
import logging
import threading
from email.utils import formatdate, parsedate_to_datetime
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from marketd.sdk import mail

from . import links, mailq

log = logging.getLogger("marketd.brands.web")
NOT_FOUND = b"not found\n"
_SERVERS: dict[int, "Endpoint"] = {}
_LOCK = threading.Lock()


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True


class _Quiet(WSGIRequestHandler):
    """The access log would hold tokens: log nothing here (marketd logs a token's hash prefix)."""

    def log_message(self, *args):
        pass


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.by = {}

    def add(self, key):
        with self.lock:
            self.by[key] = self.by.get(key, 0) + 1


def make_app(app, counters: Counters | None = None):
    counters = counters or Counters()

    def not_found(start):
        counters.add(("link", "404"))
        start("404 Not Found", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(NOT_FOUND))),
                                ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")])
        return [NOT_FOUND]

    def wsgi(environ, start):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            start("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return [b""]
        if path == "/healthz":
            body = json.dumps({"status": "ok"}).encode()
            start("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if path == "/metrics":
            body = metrics(app, counters).encode()
            start("200 OK", [("Content-Type", "text/plain; version=0.0.4"), ("Content-Length", str(len(body)))])
            return [body]
        parts = path.split("/")
        if len(parts) != 4 or parts[1] != "l" or parts[3] not in links.LINKS:
            return not_found(start)
        brand = links.brand_for_token(app.store.db, parts[2])
        if brand is None:
            return not_found(start)
        base = links.folder(app, brand)
        manifest = links.read_manifest(base)
        entry = (manifest or {}).get("files", {}).get(parts[3])
        if entry is None:
            return not_found(start)
        try:
            fh = open(base / entry["file"], "rb")   # the manifest names a file that is never rewritten
        except FileNotFoundError:
            return not_found(start)
        etag = f"\"{entry['etag']}\""
        modified = formatdate(parsedate_ts(manifest["built_at"]), usegmt=True)
        headers = [("Content-Type", "text/csv; charset=utf-8"), ("ETag", etag), ("Last-Modified", modified),
                   ("Cache-Control", "private, no-cache"), ("X-Content-Type-Options", "nosniff"),
                   ("Content-Disposition", f"inline; filename=\"{brand}-{parts[3]}\"")]
        if _not_modified(environ, etag, manifest["built_at"]):
            fh.close()
            counters.add(("link", "304"))
            start("304 Not Modified", headers)
            return [b""]
        data = fh.read()
        fh.close()
        skip_bom = "bom=0" in environ.get("QUERY_STRING", "")
        if skip_bom and data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        counters.add(("link", "200"))
        start("200 OK", headers + [("Content-Length", str(len(data)))])
        return [b""] if method == "HEAD" else [data]

    wsgi.counters = counters
    return wsgi


def parsedate_ts(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def _not_modified(environ, etag: str, built_at: str) -> bool:
    inm = environ.get("HTTP_IF_NONE_MATCH")
    if inm is not None:
        return etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
    ims = environ.get("HTTP_IF_MODIFIED_SINCE")
    if ims:
        try:
            return int(parsedate_ts(built_at)) <= int(parsedate_to_datetime(ims).timestamp())
        except (TypeError, ValueError):
            return False
    return False


def metrics(app, counters: Counters) -> str:
    """Prometheus text format: link requests, mail queue by state, go-live overdue-free counts."""
    out = ["# TYPE marketd_brands_link_requests_total counter"]
    with counters.lock:
        for (_, code), n in sorted(counters.by.items()):
            out.append(f"marketd_brands_link_requests_total{{code=\"{code}\"}} {n}")
    db = app.store.db
    out.append("# TYPE marketd_brands_mail_queue gauge")
    for state, n in mail.counts(db, mailq.ORIGIN).items():
        out.append(f"marketd_brands_mail_queue{{state=\"{state}\"}} {n}")
    out.append("# TYPE marketd_brands_golive_skus gauge")
    for brand, live, n in db.execute("select brand, live_at is not null, count(*) from golive group by 1, 2 order by 1, 2"):
        out.append(f"marketd_brands_golive_skus{{brand=\"{brand}\",live=\"{'yes' if live else 'no'}\"}} {n}")
    out.append("# TYPE marketd_job_last_success_timestamp_seconds gauge")
    for job, at in db.execute("select job, last_success_at from job_runs where last_success_at is not null order by job"):
        out.append(f"marketd_job_last_success_timestamp_seconds{{job=\"{job}\"}} {parsedate_ts(at):.0f}")
    return "\n".join(out) + "\n"


class Endpoint:
    def __init__(self, app, bind: str, port: int):
        self.server = make_server(bind, port, make_app(app), server_class=_Server, handler_class=_Quiet)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="brands-links-http", daemon=True)

    def start(self) -> "Endpoint":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def ensure_serving(app, settings) -> Endpoint:
    """Start the endpoint once per App (the links job calls this on every pass)."""
    with _LOCK:
        ep = _SERVERS.get(id(app))
        if ep is None or not ep.thread.is_alive():
            ep = Endpoint(app, settings.bind, settings.port).start()
            _SERVERS[id(app)] = ep
            log.info("data links served on http://%s:%s/ (put a TLS proxy in front for brands)", settings.bind, ep.port)
        return ep
