"""The bulk store writes: many rows per INSERT statement (full statements and the remainder),
the same products whatever the statement size, on an empty store and on a re-import."""
from marketd import tabular
from marketd.plugins.catalog import upsert
from tests.catalog.conftest import CatalogRun
from tests.samples import catalog_csv


def _store(run):
    return list(run.app.store.db.query("select sku, ean, title, brand, price, currency, stock, attributes, source_file "
                                       "from products order by sku"))


def test_statement_size_does_not_change_the_store(app_factory, tmp_path, monkeypatch):
    first = catalog_csv(53)
    lines = first.splitlines()
    second = "\n".join([lines[0]] + [ln.replace(",EUR,", ",CZK,") if i % 3 == 0 else ln
                                     for i, ln in enumerate(lines[1:])]) + "\n"
    monkeypatch.setattr(tabular, "CHUNK_ROWS", 20)
    outcomes = []
    for rows_per_statement in (1000, 7, 1):
        monkeypatch.setattr(upsert, "BATCH_ROWS", rows_per_statement)
        (tmp_path / str(rows_per_statement)).mkdir()
        run = CatalogRun(app_factory(inbox={"defaults": {"watch": "poll"}}), tmp_path / str(rows_per_statement))
        a = run.drop(first, "a.csv")
        after_first = [{k: v for k, v in r.items() if k != "source_file"} for r in _store(run)]
        assert {r["source_file"] for r in _store(run)} == {a["id"]}
        b = run.drop(second, "b.csv")
        after_second = _store(run)
        changed = {r["sku"] for r in after_second if r["source_file"] == b["id"]}
        outcomes.append((after_first, [{k: v for k, v in r.items() if k != "source_file"} for r in after_second],
                         sorted(changed), a["summary"]["new"], b["summary"]["changed"]))
    assert outcomes[0] == outcomes[1] == outcomes[2]
    after_first, after_second, changed, new, n_changed = outcomes[0]
    assert new == 53 and len(after_first) == 53 and n_changed == len(changed) == 18
    assert all(r["currency"] == "CZK" for r in after_second if r["sku"] in changed)
