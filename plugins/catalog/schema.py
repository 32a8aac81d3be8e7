"""The ``products`` table: one row per SKU, money as Decimal text, extra columns kept as JSON."""


def _v1(db):
    db["products"].create(
        {"sku": str, "ean": str, "title": str, "brand": str, "price": str, "currency": str, "stock": int,
         "attributes": str, "updated_at": str, "source_file": str},
        pk="sku",
    )
    db["products"].create_index(["ean"])
    db["products"].create_index(["brand"])


MIGRATIONS = [(1, _v1)]
