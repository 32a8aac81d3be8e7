"""`marketd content …` on a real instance config (entry-point plugins, as an operator runs it)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from marketd.cli import cli
from tests.conftest import write_config

from .conftest import MAPPING, SUITCASES, table


@pytest.fixture
def instance(tmp_path):
    models = tmp_path / "models"
    (models / "manomano").mkdir(parents=True)
    (models / "mapping.toml").write_text(MAPPING, encoding="utf-8")
    (models / "manomano" / "suitcases.toml").write_text(SUITCASES, encoding="utf-8")
    cfg = write_config(tmp_path, inbox={"content": {
        "locales": ["de_DE"], "models_dir": "models",
        "platforms": {"manomano_de": {"type": "file", "folder": "manomano", "locales": ["de_DE"], "gpsr": False}}}})
    return tmp_path, cfg


def run(cfg, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False)


def test_check_list_and_recheck(instance):
    root, cfg = instance
    src = root / "export.csv"
    src.write_text(table([{"sku": "A", "brand": "ACME", "category": "Koffer", "title_de": "t", "color": "rot"},
                          {"sku": "B", "brand": "ACME", "category": "Koffer", "title_de": "t"}]), encoding="utf-8")
    out = run(cfg, "content", "check", str(src))
    assert out.exit_code == 0, out.output
    assert "ACME: run 1, 1 error(s)" in out.output and "reports/content/ACME/" in out.output
    listing = run(cfg, "content", "models", "list")
    assert "manomano_de\tmanomano/suitcases\t2026-11-01+" in listing.output
    (root / "models" / "manomano" / "suitcases.toml").write_text(SUITCASES.replace("[attributes.color]\nrequired = true\n", "[attributes.color]\n"))
    again = run(cfg, "content", "recheck", "ACME")
    assert again.exit_code == 0 and "ACME: run 2, 0 error(s), 0 new, 1 fixed" in again.output, again.output
    missing = CliRunner().invoke(cli, ["--config", str(cfg), "content", "recheck", "NOBODY"])
    assert missing.exit_code != 0 and "no stored content for brand 'NOBODY'" in missing.output


def test_check_of_a_bad_file_says_why(instance):
    root, cfg = instance
    src = root / "bad.csv"
    src.write_text("title;locale;title_de\nx;de;y\n", encoding="utf-8")
    out = CliRunner().invoke(cli, ["--config", str(cfg), "content", "check", str(src)])
    assert out.exit_code != 0 and "missing_column" in out.output


def test_search_needs_a_channel(instance):
    _, cfg = instance
    out = CliRunner().invoke(cli, ["--config", str(cfg), "content", "models", "search", "bag", "--platform",
                                   "manomano_de"])
    assert out.exit_code != 0 and "has no channel" in out.output
