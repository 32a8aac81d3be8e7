"""tests.helpers.HoldRequests: a held request has *arrived* only once its body is in.

The four-channel e2e test killed the daemon as soon as a push was held at eBay's fake; now and
then the daemon had written the request's headers but not yet its body, the fake then read an
empty body after the release, and "eBay applying the dead daemon's push" never happened. A test
that kills a client at ``arrived`` must leave the marketplace a whole request."""
from __future__ import annotations

import socket
import threading

from marketd.sdk.fakes import serve
from tests.helpers import HoldRequests


class Recorder:
    """A WSGI app that keeps every body it is given."""

    def __init__(self):
        self.bodies: list[bytes] = []
        self.done = threading.Event()

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.bodies.append(environ["wsgi.input"].read(length))
        self.done.set()
        start_response("201 Created", [("Content-Type", "text/plain")])
        return [b"ok"]


def test_a_request_is_held_whole_and_applied_after_its_client_is_gone():
    app = Recorder()
    door = HoldRequests(app, "POST", r"/push$").arm(times=1)
    served = serve(door)
    try:
        body = b'{"tracking": "T1"}'
        client = socket.create_connection((served.host, served.port))
        client.sendall(b"POST /push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(body))
        # the headers alone are not an arrival (the client may die before writing the body)
        assert not door.arrived.wait(1.0)
        client.sendall(body)
        assert door.arrived.wait(30)
        client.close()  # the client is gone (killed) while its request is held
        door.release.set()
        assert app.done.wait(30)
        assert app.bodies == [body]
    finally:
        door.release.set()
        served.shutdown()
