"""The seam another channel plugin uses to supply data models: ``capabilities.data_models`` and
``fetch_data_model`` on its channel (here a stand-in eBay channel registered by a test plugin,
as the eBay plugin will register its own), written into the models folder and re-checked."""
from __future__ import annotations

import json

from marketd.sdk import Capabilities, Channel, hookimpl
from marketd.sdk.testing import run_job

from .conftest import FIXTURES, ContentWorld, table


class TaxonomyChannel(Channel):
    """What an eBay channel provides: getItemAspectsForCategory behind fetch_data_model."""

    type = "taxonomy_stub"
    capabilities = Capabilities(data_models=True)
    calls: list = []

    def fetch_data_model(self, ref, *, known_checksum=None):
        TaxonomyChannel.calls.append((ref, known_checksum))
        data = (FIXTURES / "ebay-11700.aspects.json").read_bytes()
        return {"format": "ebay.aspects", "model": ref, "marketplace": "EBAY_DE", "version": "129",
                "checksum": "129", "tree": {"categoryTreeId": "77", "categoryTreeVersion": "129"},
                "files": {f"{ref}.aspects.json": data}}


class StubPlugin:
    @hookimpl
    def register_channels(self, register):
        register("taxonomy_stub", TaxonomyChannel)


def test_a_channel_plugin_supplies_ebay_aspects(tmp_path):
    platforms = {"ebay_de": {"type": "ebay", "marketplace": "EBAY_DE", "locales": ["de_DE"], "channel": "tax",
                             "gpsr": False}}
    w = ContentWorld(tmp_path, platforms=platforms, extra_plugins={"stub": StubPlugin()},
                     channels={"tax": {"type": "taxonomy_stub"}})
    try:
        row = w.drop(table([{"sku": "A", "brand": "ACME", "category": "Koffer", "title_de": "t", "description_de": "d",
                             "image_1": "a.jpg"}]))
        assert [i["rule"] for i in w.issues(row) if i["platform"] == "ebay_de"][:1] == ["model.missing"]
        assert run_job(w.app, "content-models") is None
        assert TaxonomyChannel.calls[-1] == ("11700", None)
        assert json.loads((w.models / "ebay" / "EBAY_DE" / "tree.json").read_text())["categoryTreeVersion"] == "129"
        issues = w.read_csv(w.last_dir("ACME") / "issues.csv")
        assert ("Farbe", "ebay.aspect.recommended") in {(i["attribute"], i["rule"]) for i in issues}
        run = list(w.app.store.db.query("select * from content_runs order by id desc limit 1"))[0]
        assert json.loads(run["model_versions"])["ebay_de:ebay/EBAY_DE/11700"].startswith("129+")
    finally:
        w.close()
