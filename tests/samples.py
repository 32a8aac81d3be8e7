"""Generators of realistic input files for tests and benchmarks (no real customer data)."""
from __future__ import annotations

import random


def ean13(n: int) -> str:
    """A valid EAN-13 derived from ``n`` (prefix 400 = Germany)."""
    body = f"400{n:09d}"[-12:]
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body))
    return body + str((10 - total % 10) % 10)


def catalog_rows(n: int, start: int = 0, seed: int = 1):
    rnd = random.Random(seed)
    brands = ["Stabilo", "Faber", "Pelikan", "Lamy", "Kaweco"]
    for i in range(start, start + n):
        cents = rnd.randint(50, 99999)
        yield {
            "sku": f"SKU-{i:07d}", "ean": ean13(i), "title": f"Product {i} — Füller “Classic”",
            "brand": brands[i % len(brands)], "price": f"{cents // 100}.{cents % 100:02d}",
            "currency": "EUR", "stock": str(rnd.randint(0, 500)), "color": rnd.choice(["rot", "blau", "grün"]),
        }


def catalog_csv(n: int, *, start: int = 0, delimiter: str = ",", decimal: str = ".", seed: int = 1,
                header_map: dict | None = None) -> str:
    cols = ["sku", "ean", "title", "brand", "price", "currency", "stock", "color"]
    header = [(header_map or {}).get(c, c) for c in cols]
    lines = [delimiter.join(header)]
    for r in catalog_rows(n, start, seed):
        if decimal == ",":
            r["price"] = r["price"].replace(".", ",")
        lines.append(delimiter.join(_q(r[c], delimiter) for c in cols))
    return "\n".join(lines) + "\n"


def _q(value: str, delimiter: str) -> str:
    if delimiter in value or '"' in value:
        return '"' + value.replace('"', '""') + '"'
    return value
