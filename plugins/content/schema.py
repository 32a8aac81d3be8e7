"""The content plugin's tables.

- ``content_runs``: one row per completeness run (per brand and input), with the model stamps
  it used and where its reports went;
- ``content_issues``, ``content_cells``: each run's issues and its SKU × platform × locale cells
  (required, missing, ratio) — onboarding reads the latest run's, the diff the previous run's;
- ``content_products``: the latest content per SKU (the parsed, inherited record), what a model
  change re-checks without the file;
- ``content_payloads``: per SKU × platform the attributes in the platform's shape, per locale,
  with their sha256 (what a listings push sends, and how it knows what changed);
- ``content_gpsr``: the canonical GPSR record per SKU (account health's GPSR view);
- ``content_images``: the first image per SKU: reference, sha256, size, kind, dHash;
- ``gpsr_parties``: manufacturers and responsible persons from party files;
- ``content_models``: every model stamp seen, with first and last sighting;
- ``content_model_events``: model changes announced by a platform (Amazon
  PRODUCT_TYPE_DEFINITIONS_CHANGE), handled by the ``content-models`` job.
"""
from __future__ import annotations


def _v1(db):
    db["content_runs"].create({"id": int, "brand": str, "source": str, "source_sha256": str, "file_id": str,
                               "reason": str, "started_at": str, "finished_at": str, "model_versions": str,
                               "counts": str, "report_dir": str, "previous_run": int}, pk="id")
    db["content_runs"].create_index(["brand", "id"])
    db["content_issues"].create({"run_id": int, "sku": str, "parent_sku": str, "platform": str, "locale": str,
                                 "attribute": str, "rule": str, "severity": str, "message_en": str, "message_de": str,
                                 "value_found": str, "expected": str, "missing": int})
    db["content_issues"].create_index(["run_id", "sku"])
    db["content_cells"].create({"run_id": int, "sku": str, "parent_sku": str, "platform": str, "locale": str,
                                "model": str, "required": int, "missing": str, "ratio": int})
    db["content_cells"].create_index(["run_id", "sku"])
    db["content_products"].create({"sku": str, "brand": str, "parent_sku": str, "category": str, "record": str,
                                   "sha256": str, "run_id": int, "updated_at": str}, pk="sku")
    db["content_products"].create_index(["brand"])
    db["content_payloads"].create({"sku": str, "platform": str, "model": str, "payload": str, "sha256": str,
                                   "run_id": int, "updated_at": str}, pk=("sku", "platform"))
    db["content_gpsr"].create({"sku": str, "brand": str, "record": str, "sha256": str, "updated_at": str}, pk="sku")
    db["content_images"].create({"sku": str, "position": int, "ref": str, "sha256": str, "width": int, "height": int,
                                 "format": str, "kind": str, "dhash": str, "error": str, "run_id": int},
                                pk=("sku", "position"))
    db["gpsr_parties"].create({"party_id": str, "role": str, "name": str, "street": str, "postal_code": str,
                               "city": str, "country": str, "email": str, "url": str, "phone": str, "source": str,
                               "updated_at": str}, pk="party_id")
    db["content_models"].create({"platform": str, "model": str, "stamp": str, "first_seen": str, "last_seen": str},
                                pk=("platform", "model", "stamp"))
    db["content_model_events"].create({"id": int, "platform": str, "marketplace": str, "models": str, "source": str,
                                       "received_at": str, "handled_at": str, "result": str}, pk="id")


MIGRATIONS = [(1, _v1)]
