"""Images by URL: downloaded through the SDK's HttpClient from a loopback image host, with the
size cap, content type, host policy, the cache with conditional GETs, and the inline budget with
the content-images job for the rest."""
from __future__ import annotations

import pytest

from marketd.sdk.fakes import FakeService, Response
from marketd.sdk.testing import run_job

from . import imagegen as g
from .conftest import table


class ImageHost(FakeService):
    """Serves generated images; ETag + If-None-Match like a CDN."""

    def __init__(self):
        super().__init__()
        self.files = {"packshot.jpg": (g.jpeg(g.packshot(1200, 1500)), "image/jpeg"),
                      "model.jpg": (g.jpeg(g.model_figure(1200, 1500)), "image/jpeg"),
                      "small.jpg": (g.jpeg(g.packshot(600, 700)), "image/jpeg"),
                      "page.jpg": (b"<html>not an image</html>", "text/html"),
                      "huge.jpg": (b"\xff\xd8" + b"0" * 300_000, "image/jpeg")}
        self.route("GET", r"/img/(?P<name>[^/]+)", self.get, name="image")

    def get(self, req, name):
        if name not in self.files:
            return Response(404, b"missing", {"Content-Type": "text/plain"})
        data, ctype = self.files[name]
        etag = f'"{hash(data) & 0xffffffff:x}"'
        if req.headers.get("if-none-match") == etag:
            return Response(304, b"", {"ETag": etag})
        return Response(200, data, {"Content-Type": ctype, "ETag": etag})


@pytest.fixture
def host():
    h = ImageHost()
    url = h.serve()
    yield h, url
    h.shutdown()


IMAGES = {"allow_private_hosts": True, "max_bytes": 200_000}
PLATFORMS = {"amazon_like": {"type": "file", "folder": "manomano", "locales": ["de_DE"], "gpsr": False,
                             "first_image": "packshot", "main_image_rules": True}}


def rows(url, names):
    return [{"sku": f"S{i}", "brand": "B", "category": "Koffer", "title_de": "t", "color": "rot",
             "image_1": f"{url}/img/{n}"} for i, n in enumerate(names)]


def test_downloads_are_classified_and_checked(world_factory, host):
    fake, url = host
    w = world_factory(platforms=PLATFORMS, inbox={"images": IMAGES})
    row = w.drop(table(rows(url, ["packshot.jpg", "model.jpg", "small.jpg", "page.jpg", "huge.jpg", "nope.jpg"])))
    issues = {(i["sku"], i["rule"]): i for i in w.issues(row) if i["rule"].startswith("image.")}
    assert ("S0", "image.first_kind") not in issues                       # a packshot where one is expected
    assert issues[("S1", "image.first_kind")]["severity"] == "WARNING"    # a model shot where a packshot is expected
    assert issues[("S2", "image.too_small")]["value_found"] == "600×700"
    assert "content type text/html" in issues[("S3", "image.download")]["message_en"]
    assert "larger than the limit" in issues[("S4", "image.download")]["message_en"]
    assert "HTTP 404" in issues[("S5", "image.download")]["message_en"]
    kinds = dict(w.app.store.db.execute("select sku, kind from content_images where position = 0").fetchall())
    assert kinds["S0"] == "packshot" and kinds["S1"] == "model"
    calls = fake.count("image")
    w.drop(table(rows(url, ["packshot.jpg", "model.jpg"])))
    assert fake.count("image") == calls + 0          # cached: no request at all within the revalidation window
    w.app.clock.advance(8 * 86400)
    w.drop(table(rows(url, ["packshot.jpg"])))
    last = fake.calls_of("image")[-1]
    assert last.status == 304 and last.headers.get("if-none-match")


def test_loopback_hosts_are_refused_by_default(world_factory, host):
    fake, url = host
    w = world_factory(platforms=PLATFORMS)
    row = w.drop(table(rows(url, ["packshot.jpg"])))
    (issue,) = [i for i in w.issues(row) if i["rule"] == "image.download"]
    assert "private or loopback" in issue["message_en"] and fake.count("image") == 0


def test_budget_queues_the_rest_for_the_images_job(world_factory, host):
    fake, url = host
    w = world_factory(platforms=PLATFORMS, inbox={"images": {**IMAGES, "inline_limit": 1}})
    row = w.drop(table(rows(url, ["packshot.jpg", "model.jpg"])))
    assert row["summary"]["images_pending"] == 1
    pending = [i for i in w.issues(row) if i["rule"] == "image.pending"]
    assert [(p["sku"], p["severity"]) for p in pending] == [("S1", "INFO")]
    assert run_job(w.app, "content-images") is None
    d = w.last_dir("B")
    assert d != w.report_dir(row)
    diff = w.read_csv(d / "diff.csv")
    assert ("fixed", "S1", "image.pending") in {(x["status"], x["sku"], x["rule"]) for x in diff}
    assert ("new", "S1", "image.first_kind") in {(x["status"], x["sku"], x["rule"]) for x in diff}


def test_the_size_cap_holds_without_a_content_length():
    """A server that streams without announcing a length is cut off at the cap while reading."""
    import httpx

    from marketd.plugins.content.image_transport import CappedTransport, HostRefused, TooLarge

    def endless(request):
        return httpx.Response(200, headers={"content-type": "image/jpeg"},
                              stream=httpx.ByteStream(b"x" * 50_000) if "small" in str(request.url)
                              else _Chunks(200_000))

    class _Chunks(httpx.SyncByteStream):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            for _ in range(self.n):
                yield b"0" * 1024

    client = httpx.Client(transport=CappedTransport(httpx.MockTransport(endless), 100_000))
    assert len(client.get("https://img.example/small.jpg").content) == 50_000
    with pytest.raises(TooLarge):
        client.get("https://img.example/endless.jpg")
    refusing = httpx.Client(transport=CappedTransport(httpx.MockTransport(endless), 100_000,
                                                      lambda url: "no" if "evil" in url else None))
    with pytest.raises(HostRefused):
        refusing.get("https://evil.example/a.jpg")


def test_a_slow_image_host_times_out_as_a_warning(world_factory, host):
    fake, url = host
    w = world_factory(platforms=PLATFORMS, inbox={"images": {**IMAGES, "timeout_seconds": 0.3}})
    fake.delay_next("image", 1.5, times=2)
    row = w.drop(table(rows(url, ["packshot.jpg"])))
    (issue,) = [i for i in w.issues(row) if i["rule"] == "image.download"]
    assert issue["severity"] == "WARNING" and "timed out" in issue["message_en"]
