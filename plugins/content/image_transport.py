"""The transport under image downloads: a size cap enforced while the body streams in, and the
host policy checked on every request, redirects included. Apart from :mod:`.image_fetch` so that
loading the content plugin does not import httpx (only a download does)."""
from __future__ import annotations

import httpx


from .image_fetch import HostRefused, TooLarge


class _CappedStream(httpx.SyncByteStream):
    def __init__(self, inner, cap: int):
        self.inner, self.cap, self.seen = inner, cap, 0

    def __iter__(self):
        for chunk in self.inner:
            self.seen += len(chunk)
            if self.seen > self.cap:
                raise TooLarge(f"more than {self.cap} bytes")
            yield chunk

    def close(self):
        close = getattr(self.inner, "close", None)
        if close:
            close()


class CappedTransport(httpx.BaseTransport):
    """Wraps a transport so a body larger than ``cap`` bytes stops the read (:class:`TooLarge`,
    which ``HttpClient`` does not retry: it is no transport error), and every request — redirects
    included — is checked against the host policy first (:class:`HostRefused`)."""

    def __init__(self, inner: httpx.BaseTransport, cap: int, check=None):
        self.inner, self.cap, self.check = inner, cap, check

    def handle_request(self, request):
        if self.check is not None:
            why = self.check(str(request.url))
            if why:
                raise HostRefused(why)
        resp = self.inner.handle_request(request)
        length = resp.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.cap:
            resp.close()
            raise TooLarge(f"{int(length)} bytes (Content-Length)")
        resp.stream = _CappedStream(resp.stream, self.cap)
        return resp

    def close(self):
        self.inner.close()
