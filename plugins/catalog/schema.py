"""The ``products`` table: one row per SKU, money as Decimal text, extra columns kept as JSON."""


def _v1(db):
    db["products"].create(
        {"sku": str, "ean": str, "title": str, "brand": str, "price": str, "currency": str, "stock": int,
         "attributes": str, "updated_at": str, "source_file": str},
        pk="sku",
    )
    db["products"].create_index(["ean"])
    db["products"].create_index(["brand"])


def _v2(db):
    # Every catalog row written paid for this index (a sixth of a 200,000-row upsert); its only
    # reader is the daily summary's GROUP BY brand, which a scan serves as well. The EAN index
    # stays: duplicate-EAN warnings look EANs up per row.
    db.execute("drop index if exists idx_products_brand")


MIGRATIONS = [(1, _v1), (2, _v2)]
