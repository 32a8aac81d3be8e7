"""The products side of the fake MPAPI (``fake.py``): MALL's articles — products, their
variants, prices and stock — as the partner API serves them (mallgroup/mpapi-client-php v5
``ArticleClient``; research api-contracts §4 groups and limits).

- ``GET /v1/products?filter=basic`` (paged like every MPAPI listing: ``page``/``page_size``
  1..100, ``paging``; ``filter=basic`` is required, MALL's listing has no full form):
  ``{id, product_id, title, status, stage, in_stock, category_id, price, purchase_price, rrp,
  variants_count, has_variants}``; ``GET /v1/products/{id}`` the detail (snake_case on the wire).
- ``POST /v1/products`` creates, ``PUT /v1/products/{id}`` replaces (the body's ``id`` must be the
  path's). The partner's SKU *is* the product ``id``. A product needs a title (≤ 200
  characters), shortdesc (≤ 300) and longdesc, a known ``category_id``, ``vat``, ``priority``, one
  ``media`` entry marked ``main``, a price (``rrp`` not below it) and availability — unless it has
  variants, which carry media, price and availability themselves. A second create of an existing
  id: 409. Broken rules: 400 with ``result.status:"ERROR"`` and ``errorCodes[{code, attribute,
  value?, msg}]`` [codes unverified: MALL's knowledge base shows the shape, ``Checks.md``].
- Variants: ``GET/POST /v1/products/{id}/variants``, ``GET/PUT …/variants/{vid}``; a variant id
  is unique across the partner's articles.
- Pricing: ``GET/PUT /v1/products/{id}/pricing`` and ``…/variants/{vid}/pricing``
  (``{price, rrp, purchase_price}``).
- ``POST /v1/availability``: a list of ``{id, status, in_stock}`` (``status`` A active, N
  inactive, X not for resale), products and variants alike; an unknown id refuses the whole
  call (400, ``errorCodes`` per id) [unverified: MALL's behaviour for a mixed batch].
- **Review**: a new product is ``stage: "draft"`` until ``review_delay`` seconds of the fake
  clock have passed, then ``live`` (MALL checks new articles before they go on sale).
- Limits: products and availability are MALL's own quota groups (``fake.py``'s ``gate``).

Money is written as MALL writes it (JSON floats); ``fake.price_puts`` and ``availability_calls``
record what came in for tests.
"""
from __future__ import annotations

from datetime import timedelta

from marketd.sdk.fakes import Request, Response

TITLE_MAX, SHORTDESC_MAX = 200, 300      # MALL's article rules [unverified exact limits]
STATUSES = {"A", "N", "X"}
PACKAGE_SIZES = {"smallbox", "bigbox"}


def _code(code: str, attribute: str, msg: str, value=None) -> dict:
    out = {"code": code, "attribute": attribute, "msg": msg}
    if value is not None:
        out["value"] = value
    return out


class ProductBook:
    """MALL's articles of one partner; the routes are added to the fake by :meth:`routes`."""

    def __init__(self, fake, *, review_delay: float = 3600.0, categories: set[str] | None = None):
        self.fake = fake
        self.review_delay = timedelta(seconds=review_delay)
        self.categories = set(categories or {"EG115", "MA019", "NB000", "KO100"})
        self.products: dict[str, dict] = {}
        self.price_puts: list[tuple[str, dict]] = []
        self.availability_calls: list[int] = []
        self._next_article = 100001234567

    def routes(self) -> None:
        f = self.fake
        f.route("GET", r"/v1/products", self.list_products, name="mall.list_products")
        f.route("POST", r"/v1/products", self.create_product, name="mall.create_product")
        f.route("GET", r"/v1/products/(?P<pid>[^/]+)", self.get_product, name="mall.get_product")
        f.route("PUT", r"/v1/products/(?P<pid>[^/]+)", self.put_product, name="mall.update_product")
        f.route("GET", r"/v1/products/(?P<pid>[^/]+)/pricing", self.get_pricing, name="mall.get_pricing")
        f.route("PUT", r"/v1/products/(?P<pid>[^/]+)/pricing", self.put_pricing, name="mall.update_pricing")
        f.route("GET", r"/v1/products/(?P<pid>[^/]+)/variants", self.list_variants, name="mall.list_variants")
        f.route("POST", r"/v1/products/(?P<pid>[^/]+)/variants", self.create_variant, name="mall.create_variant")
        f.route("GET", r"/v1/products/(?P<pid>[^/]+)/variants/(?P<vid>[^/]+)", self.get_variant,
                name="mall.get_variant")
        f.route("PUT", r"/v1/products/(?P<pid>[^/]+)/variants/(?P<vid>[^/]+)", self.put_variant,
                name="mall.update_variant")
        f.route("PUT", r"/v1/products/(?P<pid>[^/]+)/variants/(?P<vid>[^/]+)/pricing", self.put_pricing,
                name="mall.update_variant_pricing")
        f.route("POST", r"/v1/availability", self.availability, name="mall.availability")

    # -- helpers --------------------------------------------------------------------------------
    def _errors(self, errors: list[dict], status: int = 400) -> Response:
        from .fake import envelope

        body = envelope(code=status, status="ERROR", message="; ".join(e["msg"] for e in errors)[:500])
        body["errorCodes"] = errors
        return Response(status, body)

    def _stage(self, p: dict) -> str:
        return "live" if self.fake.clock.now() >= p["_created"] + self.review_delay else "draft"

    def _variant_index(self) -> dict[str, tuple[str, dict]]:
        return {v["id"]: (pid, v) for pid, p in self.products.items() for v in p.get("variants") or []}

    def _check_article(self, body: dict, *, variant: bool, has_variants: bool = False) -> list[dict]:
        errs = []
        title = body.get("title") or ""
        if not title:
            errs.append(_code("MISSING_ATTRIBUTE", "title", "title is required"))
        elif len(title) > TITLE_MAX:
            errs.append(_code("INVALID_LENGTH", "title", f"title is longer than {TITLE_MAX} characters", len(title)))
        if len(body.get("shortdesc") or "") > SHORTDESC_MAX:
            errs.append(_code("INVALID_LENGTH", "shortdesc", f"shortdesc is longer than {SHORTDESC_MAX} characters"))
        if not variant and not body.get("longdesc"):
            errs.append(_code("MISSING_ATTRIBUTE", "longdesc", "longdesc is required"))
        if not variant:
            if body.get("category_id") not in self.categories:
                errs.append(_code("INVALID_CATEGORY", "category_id", "unknown category", body.get("category_id")))
            if body.get("vat") is None:
                errs.append(_code("MISSING_ATTRIBUTE", "vat", "vat is required"))
        if body.get("package_size") is not None and body["package_size"] not in PACKAGE_SIZES:
            errs.append(_code("INVALID_VALUE", "package_size", "package_size is smallbox or bigbox",
                              body["package_size"]))
        if has_variants:
            return errs
        media = body.get("media") or []
        if sum(1 for m in media if m.get("main")) != 1:
            errs.append(_code("MISSING_MAIN_IMAGE", "media", "exactly one media entry must be main"))
        price, rrp = body.get("price"), body.get("rrp")
        if price is None or price <= 0:
            errs.append(_code("MISSING_ATTRIBUTE", "price", "price is required"))
        elif rrp is not None and rrp < price:
            errs.append(_code("INVALID_VALUE", "rrp", "rrp must not be lower than price", rrp))
        av = body.get("availability") or {}
        if av.get("status") not in STATUSES or not isinstance(av.get("in_stock"), int) or av["in_stock"] < 0:
            errs.append(_code("INVALID_VALUE", "availability", "availability needs status A|N|X and in_stock >= 0"))
        return errs

    def _variant_of(self, body: dict) -> dict:
        v = {k: body[k] for k in ("id", "title", "shortdesc", "longdesc", "priority", "barcode", "price",
                                  "purchase_price", "rrp", "package_size") if body.get(k) is not None}
        v.update(media=list(body.get("media") or []), parameters=dict(body.get("parameters") or {}),
                 availability=dict(body.get("availability") or {}), variant_id=self._article())
        v["rrp"] = v.get("rrp", v.get("price"))
        v["purchase_price"] = v.get("purchase_price") or 0.0
        return v

    def _article(self) -> int:
        self._next_article += 1
        return self._next_article

    def _store(self, body: dict, old: dict | None) -> dict:
        variants = [self._variant_of(v) for v in body.get("variants") or []]
        if old:
            keep = {v["id"]: v["variant_id"] for v in old.get("variants") or []}
            for v in variants:
                v["variant_id"] = keep.get(v["id"], v["variant_id"])
        p = {k: body[k] for k in ("id", "title", "shortdesc", "longdesc", "category_id", "vat", "priority",
                                  "barcode", "price", "purchase_price", "rrp", "brand_id", "package_size")
             if body.get(k) is not None}
        p.update(media=list(body.get("media") or []), parameters=dict(body.get("parameters") or {}),
                 variable_parameters=list(body.get("variable_parameters") or []), variants=variants,
                 availability=dict(body.get("availability") or {"status": "A", "in_stock": 0}),
                 article_id=old["article_id"] if old else self._article(),
                 _created=old["_created"] if old else self.fake.clock.now())
        p["rrp"] = p.get("rrp", p.get("price"))
        p["purchase_price"] = p.get("purchase_price") or 0.0
        self.products[p["id"]] = p
        return p

    def _detail(self, p: dict) -> dict:
        out = {k: v for k, v in p.items() if not k.startswith("_")}
        out.update(stage=self._stage(p), url=f"https://www.mall.cz/id/{p['article_id']}",
                   price=p.get("price") or 0.0, rrp=p.get("rrp") or 0.0)
        return out

    def _basic(self, p: dict) -> dict:
        variants = p.get("variants") or []
        stock = sum(v["availability"].get("in_stock", 0) for v in variants) if variants else \
            p["availability"].get("in_stock", 0)
        return {"id": p["id"], "product_id": p["article_id"], "title": p["title"],
                "status": p["availability"].get("status", "A"), "stage": self._stage(p), "in_stock": stock,
                "category_id": p["category_id"], "price": p.get("price") or 0.0,
                "purchase_price": p["purchase_price"], "rrp": p.get("rrp") or 0.0,
                "variants_count": len(variants), "has_variants": bool(variants)}

    def _basic_variant(self, pid: str, p: dict, v: dict) -> dict:
        return {"id": v["id"], "product_id": p["article_id"], "variant_id": v["variant_id"], "title": v["title"],
                "status": v["availability"].get("status", "A"), "in_stock": v["availability"].get("in_stock", 0),
                "price": v["price"], "purchase_price": v["purchase_price"], "rrp": v["rrp"]}

    # -- routes ---------------------------------------------------------------------------------
    def list_products(self, req: Request) -> Response:
        if req.q("filter") != "basic":
            return self.fake._error(400, "filter=basic is required: MPAPI lists products in their basic form")
        rows = [self._basic(self.products[k]) for k in sorted(self.products)]
        return self.fake._page(req, rows)

    def get_product(self, req: Request, pid: str) -> Response:
        from .fake import envelope

        p = self.products.get(pid)
        if p is None:
            return self.fake._error(404, f"product {pid} not found")
        return Response(200, envelope(self._detail(p)))

    def create_product(self, req: Request) -> Response:
        from .fake import envelope

        body = req.json() or {}
        if body.get("id") in self.products or body.get("id") in self._variant_index():
            return self.fake._error(409, f"product {body.get('id')} already exists: update it with PUT")
        errs = self._check_article(body, variant=False, has_variants=bool(body.get("variants")))
        errs += [e for v in body.get("variants") or [] for e in self._check_article(v, variant=True)]
        if errs:
            return self._errors(errs)
        return Response(201, envelope(self._detail(self._store(body, None)), code=201))

    def put_product(self, req: Request, pid: str) -> Response:
        from .fake import envelope

        old = self.products.get(pid)
        if old is None:
            return self.fake._error(404, f"product {pid} not found")
        body = req.json() or {}
        if body.get("id") != pid:
            return self._errors([_code("INVALID_VALUE", "id", "the body's id must be the product's id", body.get("id"))])
        errs = self._check_article(body, variant=False, has_variants=bool(body.get("variants")))
        errs += [e for v in body.get("variants") or [] for e in self._check_article(v, variant=True)]
        if errs:
            return self._errors(errs)
        return Response(200, envelope(self._detail(self._store(body, old))))

    def _article_of(self, pid: str, vid: str | None):
        p = self.products.get(pid)
        if p is None:
            return None
        if vid is None:
            return p
        return next((v for v in p.get("variants") or [] if v["id"] == vid), None)

    def get_pricing(self, req: Request, pid: str) -> Response:
        from .fake import envelope

        a = self._article_of(pid, None)
        if a is None:
            return self.fake._error(404, f"product {pid} not found")
        return Response(200, envelope({"price": a["price"], "rrp": a["rrp"], "purchase_price": a["purchase_price"]}))

    def put_pricing(self, req: Request, pid: str, vid: str | None = None) -> Response:
        from .fake import envelope

        a = self._article_of(pid, vid)
        if a is None:
            return self.fake._error(404, f"article {vid or pid} not found")
        body = req.json() or {}
        price, rrp = body.get("price"), body.get("rrp")
        if price is None or price <= 0:
            return self._errors([_code("MISSING_ATTRIBUTE", "price", "price is required")])
        if rrp is not None and rrp < price:
            return self._errors([_code("INVALID_VALUE", "rrp", "rrp must not be lower than price", rrp)])
        self.price_puts.append((vid or pid, body))
        a.update(price=price, rrp=rrp if rrp is not None else max(price, a.get("rrp") or 0),
                 purchase_price=body.get("purchase_price", a.get("purchase_price") or 0.0))
        return Response(200, envelope({}))

    def list_variants(self, req: Request, pid: str) -> Response:
        p = self.products.get(pid)
        if p is None:
            return self.fake._error(404, f"product {pid} not found")
        rows = [self._basic_variant(pid, p, v) for v in p.get("variants") or []]
        return self.fake._page(req, rows)

    def get_variant(self, req: Request, pid: str, vid: str) -> Response:
        from .fake import envelope

        v = self._article_of(pid, vid)
        if v is None:
            return self.fake._error(404, f"variant {vid} of product {pid} not found")
        return Response(200, envelope(dict(v)))

    def create_variant(self, req: Request, pid: str) -> Response:
        from .fake import envelope

        p = self.products.get(pid)
        if p is None:
            return self.fake._error(404, f"product {pid} not found")
        body = req.json() or {}
        if body.get("id") in self.products or body.get("id") in self._variant_index():
            return self.fake._error(409, f"article {body.get('id')} already exists: update it with PUT")
        errs = self._check_article(body, variant=True)
        if errs:
            return self._errors(errs)
        v = self._variant_of(body)
        p.setdefault("variants", []).append(v)
        return Response(201, envelope(dict(v), code=201))

    def put_variant(self, req: Request, pid: str, vid: str) -> Response:
        from .fake import envelope

        p = self.products.get(pid)
        old = self._article_of(pid, vid)
        if p is None or old is None:
            return self.fake._error(404, f"variant {vid} of product {pid} not found")
        body = req.json() or {}
        if body.get("id") != vid:
            return self._errors([_code("INVALID_VALUE", "id", "the body's id must be the variant's id", body.get("id"))])
        errs = self._check_article(body, variant=True)
        if errs:
            return self._errors(errs)
        v = {**self._variant_of(body), "variant_id": old["variant_id"]}
        p["variants"] = [v if x["id"] == vid else x for x in p["variants"]]
        return Response(200, envelope(dict(v)))

    def availability(self, req: Request) -> Response:
        from .fake import envelope

        rows = req.json()
        if not isinstance(rows, list) or not rows:
            return self._errors([_code("INVALID_VALUE", "", "a non-empty list of {id, status, in_stock} is expected")])
        self.availability_calls.append(len(rows))
        variants = self._variant_index()
        errs = []
        for r in rows:
            if r.get("id") not in self.products and r.get("id") not in variants:
                errs.append(_code("NOT_FOUND", "id", f"article {r.get('id')} not found", r.get("id")))
            elif r.get("status") not in STATUSES or not isinstance(r.get("in_stock"), int) or r["in_stock"] < 0:
                errs.append(_code("INVALID_VALUE", "availability", f"article {r.get('id')}: status A|N|X, in_stock >= 0",
                                  r.get("id")))
        if errs:
            return self._errors(errs)
        for r in rows:
            target = self.products.get(r["id"]) or variants[r["id"]][1]
            target["availability"] = {"status": r["status"], "in_stock": r["in_stock"]}
        return Response(200, envelope({}))
