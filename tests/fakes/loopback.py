"""Serve any WSGI app (the vendor fakes) on loopback in a background thread.

Used by the end-to-end tests (a real ``marketd run`` subprocess talks to the fakes over TCP)
and by ``marketd sandbox``. wsgiref plus ``ThreadingMixIn``: one thread per connection, so a
slow (delayed) answer does not hold up the others.
"""
from __future__ import annotations

import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # keep test and sandbox output clean
        pass


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class Served:
    """A running loopback server: ``url`` (``http://127.0.0.1:PORT``), ``shutdown()``."""

    def __init__(self, app, host: str, port: int):
        self.app = app
        self.server = make_server(host, port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler)
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
