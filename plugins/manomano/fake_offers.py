"""The offers side of the fake ManoMano (``fake.py``): ``GET /api/v1/offer-information/offers``
and ``PATCH /api/v2/offer-information/offers`` within the key's hourly quota (the gate counts
them like any call). ManoMano lists a SKU once its catalogue feed brought it (``add_offer``); a
PATCH for a SKU it does not list gets an ERROR item inside a 207, a PATCH of more than 100 items
a 400 [the real batch limit is unknown: design Q7]. Patched values are frozen (``frozen``) against
the next feed import, as ManoMano does by default.
"""
from __future__ import annotations

from decimal import Decimal

from marketd.sdk.fakes import Response

OFFER_ROUTES = [
    ("GET", r"/api/v1/offer-information/offers", "listOffers"),
    ("PATCH", r"/api/v2/offer-information/offers", "patchOffers"),
]


class OffersApi:
    def _init_offers(self) -> None:
        self.offers: dict[tuple[int, str], dict] = {}
        self.frozen: set[tuple[int, str]] = set()
        self.patch_sizes: list[int] = []

    def add_offer(self, sku: str, *, contract: int = 1001, price: Decimal = Decimal("10.00"), stock: int = 1,
                  title: str = "") -> None:
        """The seller's catalogue feed brought ``sku`` to ManoMano."""
        with self.lock:
            self.offers[(contract, sku)] = {"sku": sku, "seller_contract_id": contract, "title": title or sku,
                                            "status": "ONLINE", "price": Decimal(price), "stock": int(stock)}

    def _public_offer(self, o: dict) -> dict:
        return {"sku": o["sku"], "seller_contract_id": o["seller_contract_id"], "title": o["title"],
                "status": o["status"], "price": {"price_vat_included": float(o["price"]), "currency": "EUR"},
                "stock": {"quantity": o["stock"]}}

    def _listOffers(self, req) -> Response:
        contract, refused = self._contract_of(req, req.q("seller_contract_id"))
        if refused:
            return refused
        limit = int(req.q("limit", "30"))
        if not 1 <= limit <= 100:
            return self._error(400, "limit must be between 1 and 100", "INVALID_PARAMETER")
        page = int(req.q("page", "1"))
        wanted = [s for s in (req.q("skus") or "").split(",") if s]
        rows = [o for (c, s), o in sorted(self.offers.items()) if c == contract and (not wanted or s in wanted)]
        chunk = rows[(page - 1) * limit:page * limit]
        pagination: dict = {"page": page, "limit": limit}
        if page * limit < len(rows):
            pagination["links"] = {"next": f"/api/v1/offer-information/offers?seller_contract_id={contract}"
                                           f"&page={page + 1}&limit={limit}"}
        return Response(200, {"content": [self._public_offer(o) for o in chunk], "pagination": pagination})

    def _patchOffers(self, req) -> Response:
        body = req.json()
        results, total = [], 0
        for block in (body or {}).get("content") or []:
            contract = block.get("seller_contract_id")
            items = block.get("items") or []
            total += len(items)
            for it in items:
                if contract not in self.keys[req.headers["x-api-key"]]:
                    results.append({"sku": it["sku"], "seller_contract_id": contract, "result": {
                        "status": "ERROR", "code": "FORBIDDEN_CONTRACT", "message": "contract not of this key"}})
                    continue
                offer = self.offers.get((contract, it["sku"]))
                if offer is None:
                    results.append({"sku": it["sku"], "seller_contract_id": contract, "result": {
                        "status": "ERROR", "code": "OFFER_NOT_FOUND", "message": f"No offer for SKU {it['sku']}"}})
                    continue
                if "price" in it:
                    offer["price"] = Decimal(str(it["price"]["price_vat_included"]))
                if "stock" in it:
                    offer["stock"] = int(it["stock"]["quantity"])
                self.frozen.add((contract, it["sku"]))
                results.append({"sku": it["sku"], "seller_contract_id": contract, "result": {"status": "SUCCESS"}})
        self.patch_sizes.append(total)
        if total > 100:
            return self._error(400, "At most 100 items per call", "INVALID_BODY")
        if all(r["result"]["status"] == "SUCCESS" for r in results):
            return Response(200)
        return Response(207, {"content": results})
