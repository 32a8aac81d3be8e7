"""Getting images to look at: from the dropped zip, from a companion folder, or downloaded.

Downloads go through the SDK's ``HttpClient`` (a token bucket per host, bounded retries on
5xx/timeouts) with the limits of ``[inbox.content.images]``: only ``http(s)``, a size cap enforced
while the body streams in (a 2 GB "image" is never read whole), a timeout, an ``image/*``
content type, and no loopback/private addresses unless allowed (a PIM row must not make the
daemon probe its own network). What was learnt about an image is cached in
``<state_dir>/content-images.sqlite`` (outside the file's transaction: a cache entry that outlives
a rolled-back file is still true): per URL its ETag/Last-Modified and sha256, per sha256 the
measured facts. A cached URL is revalidated with a conditional GET after ``revalidate_days``; the
image bytes themselves are not kept (50,000 products' photos are gigabytes), only their facts.

A file brings at most ``inline_limit`` new URLs to download while it is checked; the rest are
queued (``image.pending`` INFO) for the ``content-images`` job, which fetches them and re-checks
the products.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import socket
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from marketd.sdk import HttpClient, RateLimiter, RetryPolicy, ThreadConnections, TransientError

from .images import ImageProblem, measure

FACTS_VERSION = 1
REVALIDATE_DAYS = 7


class TooLarge(Exception):
    pass


class HostRefused(Exception):
    pass


def _schema(db) -> None:
    db.execute("create table if not exists urls (url text primary key, sha256 text, etag text, last_modified text, "
               "content_type text, fetched_at text)")
    db.execute("create table if not exists facts (sha256 text primary key, version integer, facts text)")
    db.execute("create table if not exists queue (url text primary key, brand text, queued_at text)")


class ImageSource:
    """Facts for image references of one run; ``pending`` counts URLs left for the job."""

    def __init__(self, app, settings, *, bundle=None, images_dir: Path | None = None, transport=None,
                 budget: int | None = None, brand: str = "", known: dict | None = None):
        self.app = app
        self.s = settings
        self.bundle = bundle
        self.images_dir = Path(images_dir).resolve() if images_dir else None
        self.budget = settings.inline_limit if budget is None else budget
        self.brand = brand
        self.known = known or {}   # reference -> sha256 of images seen before (a re-check without the zip)
        self.fetched = 0
        self.pending = 0
        self._memo: dict[str, dict] = {}
        self._transport = transport
        self._http: HttpClient | None = None
        self.cache = ThreadConnections(Path(app.state_dir) / "content-images.sqlite")
        _schema(self.cache.raw())

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        self.cache.close()

    # -- facts by reference -------------------------------------------------------------------
    def facts(self, ref: str) -> dict:
        """``{"ok": True, **facts}`` or ``{"ok": False, "rule": …, "detail": …}``."""
        if ref in self._memo:
            return self._memo[ref]
        if ref.lower().startswith(("http://", "https://")):
            out = self._url(ref)
        else:
            out = self._local(ref)
        self._memo[ref] = out
        return out

    def _measured(self, data: bytes) -> dict:
        sha = hashlib.sha256(data).hexdigest()
        db = self.cache.raw()
        row = db.execute("select version, facts from facts where sha256 = ?", [sha]).fetchone()
        if row and row[0] == FACTS_VERSION:
            return {"ok": True, "sha256": sha, **json.loads(row[1])}
        try:
            f = measure(data, downscale=self.s.downscale, border_share=self.s.border_share, white_min=self.s.white_min,
                        fg_distance=self.s.fg_distance, main_white=self.s.main_white,
                        edge_touch_share=self.s.edge_touch_share)
        except ImageProblem as exc:
            f = {"problem": exc.rule, "detail": exc.detail}
        db.execute("insert or replace into facts values (?, ?, ?)", [sha, FACTS_VERSION, json.dumps(f, sort_keys=True)])
        if "problem" in f:
            return {"ok": False, "rule": f["problem"], "detail": f["detail"], "sha256": sha}
        return {"ok": True, "sha256": sha, **f}

    def _by_sha(self, sha: str) -> dict | None:
        row = self.cache.raw().execute("select version, facts from facts where sha256 = ?", [sha]).fetchone()
        return _from_cached(sha, row[1]) if row and row[0] == FACTS_VERSION else None

    def _local(self, ref: str) -> dict:
        if ref in self.known and self.bundle is None:
            hit = self._by_sha(self.known[ref])
            if hit is not None:
                return hit
        data = None
        if self.bundle is not None:
            data = self.bundle.image(ref, self.s.max_bytes)
        if data is None and self.images_dir is not None:
            path = (self.images_dir / ref).resolve()
            if self.images_dir in path.parents and path.is_file():
                if path.stat().st_size > self.s.max_bytes:
                    return {"ok": False, "rule": "image.unreadable", "detail": f"over {self.s.max_bytes} bytes"}
                data = path.read_bytes()
        if data is None:
            return {"ok": False, "rule": "image.not_found", "detail": ref}
        return self._measured(data)

    # -- downloads ------------------------------------------------------------------------------
    def _host_allowed(self, url: str) -> str | None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not host:
            return "the URL has no host"
        if self.s.allowed_hosts and host not in {h.lower() for h in self.s.allowed_hosts}:
            return f"host {host} is not in [inbox.content.images] allowed_hosts"
        if self.s.allow_private_hosts:
            return None
        try:
            addrs = {ai[4][0] for ai in socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)}
        except OSError as exc:
            return f"host {host} cannot be resolved ({exc.strerror or exc})"
        for a in addrs:
            ip = ipaddress.ip_address(a.split("%")[0])
            if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast \
                    or ip.is_unspecified:
                return f"host {host} is a private or loopback address (set allow_private_hosts = true to allow it)"
        return None

    def http(self) -> HttpClient:
        if self._http is None:
            import httpx  # here, not at the top: loading the plugin must not import httpx

            from .image_transport import CappedTransport

            inner = self._transport if self._transport is not None else httpx.HTTPTransport()
            limiter = RateLimiter({}, clock=self.app.clock, default=(self.s.host_rate, max(1.0, self.s.host_rate)))
            self._http = HttpClient("", transport=CappedTransport(inner, self.s.max_bytes, self._host_allowed),
                                    timeout=self.s.timeout_seconds, clock=self.app.clock,
                                    retry=RetryPolicy(max_attempts=2, base=1.0, cap=5.0), limiter=limiter,
                                    name="content images", follow_redirects=True,
                                    headers={"user-agent": "marketd-content/1 (image check)",
                                             "accept": "image/*"})
        return self._http

    def _url(self, url: str) -> dict:
        db = self.cache.raw()
        row = db.execute("select sha256, etag, last_modified, fetched_at from urls where url = ?", [url]).fetchone()
        now = self.app.clock.now()
        if row and row[0]:
            fresh = row[3] and now - _parse(row[3]) < timedelta(days=REVALIDATE_DAYS)
            frow = db.execute("select version, facts from facts where sha256 = ?", [row[0]]).fetchone()
            if fresh and frow and frow[0] == FACTS_VERSION:
                return _from_cached(row[0], frow[1])
        if not self.s.download:
            return {"ok": False, "rule": "image.pending", "detail": "downloads are switched off"}
        if self.fetched >= self.budget:
            db.execute("insert or ignore into queue values (?, ?, ?)", [url, self.brand, now.isoformat()])
            self.pending += 1
            return {"ok": False, "rule": "image.pending", "detail": "queued"}
        self.fetched += 1
        return self.download(url, row)

    def download(self, url: str, row=None) -> dict:
        db = self.cache.raw()
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            return {"ok": False, "rule": "image.download", "detail": "only http and https URLs are fetched"}
        headers = {}
        if row is not None and row[0]:
            if row[1]:
                headers["if-none-match"] = row[1]
            if row[2]:
                headers["if-modified-since"] = row[2]
        host = (urlsplit(url).hostname or "").lower()
        import httpx

        try:
            resp = self.http().request("GET", url, operation=host, headers=headers)
        except TooLarge as exc:
            return {"ok": False, "rule": "image.download", "detail": f"larger than the limit ({exc})"}
        except HostRefused as exc:
            return {"ok": False, "rule": "image.download", "detail": str(exc)}
        except TransientError as exc:
            return {"ok": False, "rule": "image.download", "detail": str(exc)[:160]}
        except httpx.HTTPError as exc:
            return {"ok": False, "rule": "image.download", "detail": f"{type(exc).__name__}: {str(exc)[:120]}"}
        finally:
            db.execute("delete from queue where url = ?", [url])
        now = self.app.clock.now().isoformat()
        if resp.status_code == 304 and row is not None and row[0]:
            db.execute("update urls set fetched_at = ? where url = ?", [now, url])
            frow = db.execute("select version, facts from facts where sha256 = ?", [row[0]]).fetchone()
            if frow and frow[0] == FACTS_VERSION:
                return _from_cached(row[0], frow[1])
            return self.download(url, None)
        if resp.status_code != 200:
            return {"ok": False, "rule": "image.download", "detail": f"HTTP {resp.status_code}"}
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in [c.lower() for c in self.s.content_types]:
            return {"ok": False, "rule": "image.download", "detail": f"content type {ctype or 'missing'} is not an image"}
        out = self._measured(resp.content)
        db.execute("insert or replace into urls values (?, ?, ?, ?, ?, ?)",
                   [url, out.get("sha256"), resp.headers.get("etag"), resp.headers.get("last-modified"), ctype, now])
        return out

    def queued(self, limit: int = 1000) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.cache.raw().execute(
            "select url, brand from queue order by queued_at, url limit ?", [limit])]


def _parse(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


def _from_cached(sha: str, facts_json: str) -> dict:
    f = json.loads(facts_json)
    if "problem" in f:
        return {"ok": False, "rule": f["problem"], "detail": f["detail"], "sha256": sha}
    return {"ok": True, "sha256": sha, **f}
