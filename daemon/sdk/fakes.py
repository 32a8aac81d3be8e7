"""Fake vendor servers for plugin authors: a tiny WSGI router with a request journal, fault
injection, a fake clock and a loopback server, the label material carrier fakes return, and what
a plugin registers for ``marketd sandbox`` (``register_fakes``: :class:`SandboxFake`).

Every integration ships its contract-faithful fake in its own folder (``plugins/<name>/fake.py``)
so ``marketd sandbox`` works from a plain install and tests run the same object in-process
(``httpx.WSGITransport(app=fake)``) or on loopback (``fake.serve()`` / :func:`serve`) for a real
daemon subprocess. The daemon cannot share a test's ``FakeClock``, so a fake's time moves either
directly (``fake.clock.advance``) or over HTTP: ``POST /__control/advance?seconds=3600``.
Nothing here checks requests against a vendor's published schemas: a fake that can takes a
validator from its tests (the Amazon fake's ``contract``), since the schemas are not shipped.
"""
from __future__ import annotations

import io
import json
import re
import threading
import time
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Callable
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from ..clock import Clock, FakeClock

STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request",
               401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
               413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Entity",
               429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
               503: "Service Unavailable", 504: "Gateway Timeout", 599: "Fake Contract Violation"}


@dataclass
class Request:
    """One request as the fake saw it; the journal keeps these (credentials redacted) with the
    route's ``operation`` name and the ``status`` answered."""

    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    at: str = ""
    operation: str = ""
    status: int = 0
    base: str = ""        # scheme://host the client used (for URLs the fake hands out)

    def json(self):
        return json.loads(self.body or b"null")

    def q(self, name, default=None):
        v = self.query.get(name)
        return v[0] if v else default


@dataclass
class Response:
    status: int = 200
    body: bytes | str | dict | list | None = None
    headers: dict = field(default_factory=dict)


@dataclass
class Fault:
    """The next ``times`` requests matching ``target`` (a route's name, or a regex searched in the
    path) and ``method`` get ``status``/``body`` — or, with ``delay``, are answered normally after
    ``delay`` real seconds (a slow service, for client timeouts)."""

    target: str
    status: int = 0
    times: int = 1
    body: bytes | None = None
    headers: dict = field(default_factory=dict)
    method: str | None = None
    delay: float = 0.0

    def matches(self, req: Request) -> bool:
        return self.times > 0 and self.method in (None, req.method) and (
            self.target == req.operation or re.search(self.target, req.path) is not None)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


_WRONG_METHOD = object()


class FakeService:
    """Base of a fake vendor API: a WSGI callable. Subclasses call ``self.route(method, regex, fn,
    name=...)``; ``fn(req, **groups)`` returns a :class:`Response`.

    A request goes: control endpoints (``/__control/…``, never journaled) → journal → ``gate``
    (the service's own admission: auth, quotas) → injected faults → ``answer`` (``tick``, then the
    route; 404/405 otherwise) → ``finish`` (headers every answer carries, checks of the answer).
    Subclasses override those steps, not the WSGI plumbing; one lock serialises the steps, so the
    same object is safe on the threaded loopback server.
    """

    REDACT_HEADERS = {"password", "authorization"}

    def __init__(self, clock: Clock | None = None):
        self.clock = clock or FakeClock()
        self.lock = threading.RLock()
        self.routes: list[tuple[str, re.Pattern, callable, str]] = []
        self.journal: list[Request] = []
        self.faults: list[Fault] = []
        self.server = None
        self.thread = None
        self.latency = 0.0  # real seconds each request takes (outside the lock, so calls overlap)
        self.in_flight = 0
        self.max_in_flight = 0  # most requests being answered at the same time

    # -- set-up -----------------------------------------------------------------------------------
    def route(self, method: str, pattern: str, fn, name: str = "") -> None:
        self.routes.append((method, re.compile(pattern + r"$"), fn, name))

    def fail_next(self, target: str, status: int = 503, times: int = 1, body: bytes | str | dict | None = None,
                  headers: dict | None = None, method: str | None = None) -> None:
        """The next ``times`` requests matching ``target`` (a route name or a path regex), and
        ``method`` when given, get ``status`` with ``body`` (a dict is sent as JSON; None: the
        service's usual error body for that status, :meth:`fault_body`)."""
        if body is None:
            body = self.fault_body(status)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers = {"Content-Type": "application/json", **(headers or {})}
        with self.lock:
            self.faults.append(Fault(target, status, times, body.encode() if isinstance(body, str) else body,
                                     headers or {}, method))

    def delay_next(self, target: str, seconds: float, times: int = 1, method: str | None = None) -> None:
        """The next ``times`` requests matching ``target`` take ``seconds`` of *real* time."""
        with self.lock:
            self.faults.append(Fault(target, times=times, method=method, delay=seconds))

    def fault_body(self, status: int) -> bytes | str | dict:
        """The body of an injected fault given without one."""
        return b""

    # -- the journal ------------------------------------------------------------------------------
    def requests(self, method: str | None = None, path_re: str | None = None) -> list[Request]:
        return [r for r in self.journal if (method is None or r.method == method)
                and (path_re is None or re.search(path_re, r.path))]

    def calls_of(self, operation: str | None = None, status: int | None = None) -> list[Request]:
        return [r for r in self.journal if (operation is None or r.operation == operation)
                and (status is None or r.status == status)]

    def count(self, operation: str | None = None, status: int | None = None) -> int:
        return len(self.calls_of(operation, status))

    # -- WSGI -------------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        req = _parse(environ)
        control = req.path.startswith("/__control/")
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            route = None if control else self._resolve(req)
            delay = 0.0 if control else self._take_delay(req)
        try:
            if not control and (self.latency or delay):
                time.sleep(self.latency + delay)
            with self.lock:
                resp = self._control(req) if control else self._dispatch(req, route)
        finally:
            with self.lock:
                self.in_flight -= 1
        payload = resp.body
        hdrs = dict(resp.headers)
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(payload, str):
            payload = payload.encode()
        elif payload is None:
            payload = b""
        hdrs["Content-Length"] = str(len(payload))
        start_response(f"{resp.status} {STATUS_TEXT.get(resp.status, 'Status')}", list(hdrs.items()))
        return [payload] if req.method != "HEAD" else [b""]

    def _resolve(self, req: Request):
        """(fn, groups) of the route for ``req`` (setting ``req.operation``), ``_WRONG_METHOD``, or None."""
        wrong = False
        for method, pattern, fn, name in self.routes:
            m = pattern.match(req.path)
            if m:
                if method != req.method:
                    wrong = True
                    continue
                req.operation = name
                return fn, m.groupdict()
        return _WRONG_METHOD if wrong else None

    def _take_delay(self, req: Request) -> float:
        for fault in self.faults:
            if fault.delay and fault.matches(req):
                fault.times -= 1
                return fault.delay
        return 0.0

    def _dispatch(self, req: Request, route) -> Response:
        req.at = self.clock.now().isoformat()
        entry = Request(req.method, req.path, req.query,
                        {k: ("***" if k in self.REDACT_HEADERS else v) for k, v in req.headers.items()},
                        self.redact_body(req), req.at, req.operation or ("?" if route is None else ""), 0, req.base)
        self.journal.append(entry)
        resp = self.gate(req)
        if resp is None:
            for fault in self.faults:
                if not fault.delay and fault.matches(req):
                    fault.times -= 1
                    resp = Response(fault.status, fault.body, fault.headers)
                    break
        if resp is None:
            resp = self.answer(req, route)
        resp = self.finish(req, resp)
        entry.status = resp.status
        return resp

    # -- the steps a service overrides ------------------------------------------------------------
    def redact_body(self, req: Request) -> bytes:
        """The body as the journal keeps it (override to hide credentials sent in the body)."""
        return req.body

    def gate(self, req: Request) -> Response | None:
        """The service's admission before anything else (auth in the query, quotas); None: go on."""
        return None

    def answer(self, req: Request, route) -> Response:
        self.tick()
        if route is None:
            return self.not_found(req)
        if route is _WRONG_METHOD:
            return self.method_not_allowed(req)
        fn, groups = route
        try:
            return fn(req, **groups)
        except json.JSONDecodeError:
            return self.bad_json(req)

    def finish(self, req: Request, resp: Response) -> Response:
        """Every answer passes here, injected faults too (headers the service always sends)."""
        return resp

    def not_found(self, req: Request) -> Response:
        return Response(404, {"error": f"no route {req.method} {req.path}"})

    def method_not_allowed(self, req: Request) -> Response:
        return Response(405, {"error": "method not allowed"})

    def bad_json(self, req: Request) -> Response:
        return Response(400, {"error": "request body is not JSON"})

    def tick(self) -> None:
        """Advance clock-driven state (pickups, deliveries); called before every request."""

    def _control(self, req: Request) -> Response:
        if req.path == "/__control/advance":
            if hasattr(self.clock, "advance"):  # a fake on the system clock (the sandbox's SP-API) cannot
                self.clock.advance(float(req.q("seconds", "0")))
            self.tick()
            return Response(200, {"now": self.clock.now().isoformat()})
        if req.path == "/__control/now":
            return Response(200, {"now": self.clock.now().isoformat()})
        if req.path == "/__control/fail":
            self.fail_next(req.q("target") or req.q("path", "."), int(req.q("status", "503")),
                           int(req.q("times", "1")))
            return Response(200, {"ok": True})
        if req.path == "/__control/journal":
            return Response(200, [{"method": r.method, "path": r.path, "operation": r.operation, "status": r.status,
                                   "at": r.at} for r in self.journal])
        return self.control(req)

    def control(self, req: Request) -> Response:
        return Response(404, {"error": "unknown control"})

    # -- loopback ---------------------------------------------------------------------------------
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on loopback in a daemon thread; returns the base URL."""
        self.server = make_server(host, port, self, server_class=ThreadingServer, handler_class=QuietHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, name=type(self).__name__, daemon=True)
        self.thread.start()
        return f"http://{host}:{self.server.server_address[1]}"

    def shutdown(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def _parse(environ) -> Request:
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    host = headers.get("host") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    return Request(environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/"), query, headers, body,
                   base=f"{environ.get('wsgi.url_scheme', 'http')}://{host}")


class Served:
    """A running loopback server: ``url`` (``http://127.0.0.1:PORT``), ``shutdown()``."""

    def __init__(self, app, host: str, port: int):
        self.app = app
        self.server = make_server(host, port, app, server_class=ThreadingServer, handler_class=QuietHandler)
        self.host = host
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"fake-{type(app).__name__}", daemon=True)
        self.thread.start()

    def shutdown(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)
            self.server = None

    def __enter__(self) -> "Served":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()


def serve(app, port: int = 0, host: str = "127.0.0.1") -> Served:
    """Start serving ``app`` on ``host:port`` (0 = any free port); returns the :class:`Served`."""
    return Served(app, host, port)


# -- what `marketd sandbox` serves (the register_fakes hook) --------------------------------------
@dataclass
class SandboxOptions:
    """What the operator asked of the sandbox (``marketd sandbox --orders N``)."""

    orders: int = 40


@dataclass
class SandboxConfig:
    """What the sandbox writes for one fake: ``tables`` merged into ``marketd.toml`` (e.g.
    ``{"carriers": {"brt": {...}}}``), ``env`` (the fake's sandbox credentials) into
    ``sandbox.env``, and ``hints``: lines telling the operator how to drive the fake."""

    tables: dict
    env: dict = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)


@dataclass
class SandboxFake:
    """One fake ``marketd sandbox`` serves, as a plugin registers it (``register_fakes``).

    ``make(options)`` returns the WSGI fake, populated (on the system clock where a daemon will
    use it, since a daemon cannot share a ``FakeClock``); ``configure(fake, url)`` says how an
    instance reaches it once served at ``url``; ``check(app, fake)`` exercises it through the
    plugin's own code in an App built from the written config and returns what it saw as lines,
    raising when anything is wrong, so ``marketd sandbox --check`` fails for a broken fake or a
    wrong config. A fake without a check makes ``--check`` fail: every fake served is proven.
    """

    name: str
    make: Callable[[SandboxOptions], object]
    configure: Callable[[object, str], SandboxConfig]
    check: Callable[[object, object], list[str]] | None = None


class SandboxCheckFailed(AssertionError):
    """A sandbox check saw the fake or the plugin misbehave; the message says what."""


# -- label material the fakes return --------------------------------------------------------------
def pdf_label(lines: list[str], *, width_mm: float = 100, height_mm: float = 150) -> bytes:
    """A real one-page PDF label made with fpdf2 (text + a drawn barcode-like bar pattern)."""
    return pdf_labels([lines], width_mm=width_mm, height_mm=height_mm)


def pdf_labels(labels: list[list[str]], *, width_mm: float = 100, height_mm: float = 150, per_page: int = 1) -> bytes:
    from fpdf import FPDF

    if per_page == 4:
        pdf = FPDF(unit="mm", format="A4")
        cell_w, cell_h = 105, 148.5
    else:
        pdf = FPDF(unit="mm", format=(width_mm, height_mm))
        cell_w, cell_h = width_mm, height_mm
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=10)
    for i, lines in enumerate(labels):
        slot = i % per_page if per_page == 4 else 0
        if slot == 0:
            pdf.add_page()
        x0 = (slot % 2) * cell_w
        y0 = (slot // 2) * cell_h
        pdf.rect(x0 + 3, y0 + 3, cell_w - 6, cell_h - 6)
        y = y0 + 10
        for line in lines:
            pdf.set_xy(x0 + 8, y)
            pdf.cell(cell_w - 16, 6, _latin1(line))
            y += 7
        code = lines[0] if lines else "0"
        bx = x0 + 10
        for ch in code:
            w = 0.4 + (ord(ch) % 4) * 0.3
            pdf.rect(bx, y0 + cell_h - 40, w, 25, style="F")
            bx += w + 0.6
            if bx > x0 + cell_w - 10:
                break
    buf = io.BytesIO()
    pdf.output(buf)
    return buf.getvalue()


def _latin1(text: str) -> str:
    return text.encode("latin-1", errors="replace").decode("latin-1")


def zpl_label(lines: list[str], barcode: str) -> str:
    """Real ZPL II for a 4x6" label at 203 dpi: ^XA … ^XZ."""
    out = ["^XA", "^CI28", "^PW812", "^LL1218", "^FO40,40^GB732,1138,4^FS"]
    y = 80
    for line in lines:
        out.append(f"^FO70,{y}^A0N,36,36^FD{_zpl_safe(line)}^FS")
        y += 50
    out.append(f"^FO70,{y + 40}^BY3^BCN,200,Y,N,N^FD{_zpl_safe(barcode)}^FS")
    out.append("^XZ")
    return "\n".join(out)


def _zpl_safe(text: str) -> str:
    return text.replace("^", " ").replace("~", " ")
