"""The platform's own copy of the main image against the supplied first image (issue 12 item 7,
"cut-out instead of a model image as the first picture"): dHash of real generated JPEGs, and the
whole path — content checked, pushed to the fake SP-API, Amazon re-hosting images on its media
host (served by the fake over loopback HTTP), pulled, fetched, compared, reported."""
from __future__ import annotations

import httpx
import pytest
from PIL import Image, ImageDraw, ImageEnhance

import marketd.plugins.amazon as amazon_plugin
import marketd.plugins.settlements as settlements_plugin
from marketd.plugins.amazon.settings import env_name
from marketd.plugins.content.images import hamming, measure
from marketd.plugins.content.listings import audit
from marketd.plugins.content.listings.remote_images import compare
from marketd.plugins.content.settings import ImageSettings
from marketd.sdk.testing import run_job

from tests.content import imagegen as g
from tests.content.conftest import ContentWorld

from .conftest import CREDS, ENDPOINT, MAPPING, SELLER, checked, sku_row
from .test_audit import deviations

MATCH = 10  # ListingsSettings.image_match_distance's default


def lifestyle(w=1600, h=2000) -> Image.Image:
    """A scene with structure (a sky-to-floor gradient, a window, a suitcase on the left)."""
    img = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(img)
    for y in range(h):
        v = int(230 - 150 * y / h)
        d.line([(0, y), (w, y)], fill=(v, v - 10, v - 30))
    d.rectangle([w * .55, h * .1, w * .9, h * .45], fill=(250, 250, 235))
    d.rectangle([w * .08, h * .5, w * .4, h * .95], fill=(30, 40, 110))
    return img


def dhash_of(img: Image.Image, quality: int = 90) -> str:
    return measure(g.jpeg(img, quality))["dhash"]


def as_platform_copy(img: Image.Image) -> bytes:
    """What a marketplace does to an uploaded image: resized to 1000 px, re-encoded at q75."""
    ratio = 1000 / max(img.size)
    return g.jpeg(img.resize((round(img.width * ratio), round(img.height * ratio))), 75)


PICTURES = {"packshot": g.packshot, "model": g.model_figure, "ghost": g.ghost_mannequin,
            "model_margins": lambda: g.model_figure(margins=True), "lifestyle": lifestyle}


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_near_duplicates_match(name):
    """Re-encoded, resized, slightly darker or recompressed hard: still the same picture."""
    img = PICTURES[name]()
    ours = dhash_of(img)
    copies = [measure(as_platform_copy(img))["dhash"], dhash_of(img, 40),
              dhash_of(ImageEnhance.Brightness(img).enhance(0.92)),
              dhash_of(img.resize((img.width // 3, img.height // 3)), 60)]
    dists = [hamming(ours, c) for c in copies]
    assert all(d <= MATCH for d in dists), dists


@pytest.mark.parametrize("a,b", [("packshot", "model"), ("model", "model_margins"), ("packshot", "lifestyle"),
                                 ("model", "lifestyle"), ("ghost", "model_margins"), ("packshot", "model_margins")])
def test_different_pictures_do_not_match(a, b):
    assert hamming(dhash_of(PICTURES[a]()), dhash_of(PICTURES[b]())) > MATCH


def test_compare_names_the_supplied_image_shown_and_its_own_kind():
    s = ImageSettings()
    model, cut = g.model_figure(), g.packshot()
    ours = [{"position": 0, "ref": "a.jpg", "dhash": dhash_of(model), "kind": "model"},
            {"position": 1, "ref": "b.jpg", "dhash": dhash_of(cut), "kind": "packshot"}]
    seen = compare(measure(as_platform_copy(cut)), ours, s, MATCH)
    assert (seen["position"], seen["kind"]) == (2, "packshot") and seen["distance"] <= MATCH
    assert compare(measure(as_platform_copy(model)), ours, s, MATCH)["position"] == 1
    other = compare(measure(g.jpeg(lifestyle())), ours, s, MATCH)
    assert other["position"] is None and other["distance"] > MATCH
    assert compare(measure(g.jpeg(model)), [], s, MATCH) == {"position": None, "distance": None, "kind": "model"}


def test_check_image_with_the_platforms_copy():
    ours = ["https://brand/a.jpg", "https://brand/b.jpg"]
    kinds = {ours[0]: "model", ours[1]: "packshot"}
    amz = "https://m.media-amazon.com/images/I/x.jpg"
    assert audit.check_image(ours, kinds, amz, "model", {"position": 1, "distance": 2, "kind": "model"}) == []
    cut = audit.check_image(ours, kinds, amz, "model", {"position": 2, "distance": 1, "kind": "packshot"})
    assert [(d["rule"], d["severity"]) for d in cut] == [("audit.image.order", "WARNING"), ("audit.image.kind", "ERROR")]
    assert "Freisteller" in cut[1]["message_de"] and "cut-out" in cut[1]["message_en"]
    foreign = audit.check_image(ours, kinds, amz, "model", {"position": None, "distance": 30, "kind": "uncertain"})
    assert [(d["rule"], d["severity"]) for d in foreign] == [("audit.image.different", "WARNING")]
    # without the platform's copy a re-hosted URL tells nothing (the URL rules only)
    assert audit.check_image(ours, kinds, amz, "model") == []


# -- the whole path through the fake -----------------------------------------------------------------
@pytest.fixture
def served(fake):
    base = fake.serve()
    yield base
    fake.shutdown()


@pytest.fixture
def world(tmp_path, fake, clock, monkeypatch, served):
    for what, value in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), CREDS):
        monkeypatch.setenv(env_name("amz", what), value)
    platforms = {"amazon_de": {"type": "amazon", "marketplace": "DE", "locales": ["de_DE"], "channel": "amz",
                               "gpsr": False, "main_image_rules": False, "first_image": "model"}}
    inbox = {"images": {"download": True, "allow_private_hosts": True},
             "listings": {"allow": {"amazon_de": ["ACME"]}, "expected_first_image": {"amazon_de": "model"}}}
    w = ContentWorld(tmp_path, platforms=platforms, inbox=inbox, clock=clock,
                     extra_plugins={"amazon": amazon_plugin, "settlements": settlements_plugin},
                     channels={"amz": {"type": "amazon", "marketplace": "DE", "endpoint": ENDPOINT,
                                       "seller_id": SELLER, "lwa_endpoint": "https://api.amazon.com/auth/o2/token",
                                       "transport": httpx.WSGITransport(app=fake)}})
    w.write_model("mapping.toml", MAPPING)
    yield w
    w.close()


def test_platform_copy_of_the_cut_out_first_is_an_error(world, fake, served):
    pictures = {1: (g.model_figure(), g.packshot()), 2: (g.model_figure(), g.packshot()),
                3: (g.model_figure(), g.packshot()), 4: (g.model_figure(), g.packshot())}
    rows = []
    for n, (first, second) in pictures.items():
        a = fake.host_image(f"brand-k{n}.jpg", g.jpeg(first))      # the brand's CDN (here: the same loopback host)
        b = fake.host_image(f"brand-k{n}-b.jpg", g.jpeg(second))
        rows.append(sku_row(n, image_1=served + a, image_2=served + b))
    issues = checked(world, rows)
    assert not [i for i in sum(issues.values(), []) if i["severity"] == "ERROR"]
    stored = {r["sku"]: r["dhash"] for r in world.app.store.db.query("select * from content_images where position = 0")}
    assert set(stored) == {"K001", "K002", "K003", "K004"} and all(stored.values())
    run_job(world.app, "listings-push")
    world.app.clock.advance(120)
    run_job(world.app, "listings-push")
    assert len(fake.listings) == 4
    # Amazon re-hosts: K001 its copy of the model photo, K002 its copy of the cut-out, K003 a
    # picture that is none of the brand's; K004 keeps the URL sent
    fake.edit_listing("K001", main_image=served + fake.host_image("amzn-1.jpg", as_platform_copy(pictures[1][0])))
    fake.edit_listing("K002", main_image=served + fake.host_image("amzn-2.jpg", as_platform_copy(pictures[2][1])))
    fake.edit_listing("K003", main_image=served + fake.host_image("amzn-3.jpg", as_platform_copy(lifestyle())))

    assert run_job(world.app, "listings-pull") is None
    got = {(r["sku"], r["rule"]): r for r in deviations(world) if r["field"] == "main_image"}
    assert set(got) == {("K002", "audit.image.order"), ("K002", "audit.image.kind"), ("K003", "audit.image.different")}
    kind = got[("K002", "audit.image.kind")]
    assert kind["severity"] == "ERROR" and kind["platform_shows"].endswith("amzn-2.jpg (packshot)")
    assert kind["should_show"] == f"{served}/__media/brand-k2.jpg (model)"
    assert got[("K003", "audit.image.different")]["severity"] == "WARNING"
    media = [c for c in fake.calls if c.path.startswith("/__media/amzn-")]
    assert sorted(c.path for c in media) == ["/__media/amzn-1.jpg", "/__media/amzn-2.jpg", "/__media/amzn-3.jpg"]

    # the next day's audit reads the facts from the cache: no image is fetched again
    before = len([c for c in fake.calls if c.path.startswith("/__media/")])
    world.app.clock.advance(86400)
    run_job(world.app, "listings-pull")
    assert len([c for c in fake.calls if c.path.startswith("/__media/")]) == before
