"""Uploading invoices to a marketplace exactly once (claim → call → commit, ``uncertain`` after an
interruption), the list a person works through where the marketplace takes documents only in its
portal, and the manual-operation flag."""
from __future__ import annotations

import csv
import subprocess
import sys

import pytest
from click.testing import CliRunner

from marketd.sdk import Capabilities, Channel, TransientError, hookimpl



class UploadChannel(Channel):
    """A marketplace account that takes invoice PDFs; ``answers`` scripts what it says."""

    type = "takes-invoices"
    capabilities = Capabilities(fetch_orders=True, upload_invoice=True)
    calls: list = []
    answers: list = []

    def upload_invoice(self, pdf: bytes, meta: dict) -> dict:
        assert pdf[:5] == b"%PDF-"
        answer = self.answers.pop(0) if self.answers else {"ok": True}
        if isinstance(answer, Exception):
            raise answer
        self.calls.append(meta)
        return {**answer, "ref": answer.get("ref", f"feed-{len(self.calls)}")}


class NoUploadChannel(Channel):
    type = "no-uploads"
    capabilities = Capabilities(fetch_orders=True)


class Channels:
    @hookimpl
    def register_channels(self, register):
        register("takes-invoices", UploadChannel)
        register("no-uploads", NoUploadChannel)


@pytest.fixture
def env(make_env):
    UploadChannel.calls, UploadChannel.answers = [], []
    return _env(make_env)


def _env(make_env):
    return make_env(plugins={"test-channels": Channels()},
                    accounts={"amz": {"type": "takes-invoices"}, "mano": {"type": "no-uploads"},
                              "ebay-de": {"type": "no-uploads"}},
                    channels={"amz": {"upload": "api"}, "mano": {"upload": "manual"}, "ebay-de": {"upload": "api"}})


def uploads(env) -> dict:
    return {r["doc_no"]: r for r in env.db.query("select d.doc_no, u.* from document_uploads u join documents d "
                                                 "on d.id = u.doc_id")}


def cli(env, *args):
    from marketd.cli import cli as root

    return CliRunner().invoke(root, list(args), obj={"app": env.app}, env={"USER": "anna"}, catch_exceptions=False)


def test_each_published_document_is_uploaded_once_with_its_metadata(env):
    key = env.order("U-1")
    env.order("U-2")
    env.run()
    env.run()
    assert [c["doc_no"] for c in UploadChannel.calls] == ["INV-amz-2026-000001", "INV-amz-2026-000002"]
    meta = UploadChannel.calls[0]
    assert {k: meta[k] for k in ("kind", "order_id", "total_gross", "total_vat", "currency", "issue_date")} == {
        "kind": "invoice", "order_id": "U-1", "total_gross": "23.80", "total_vat": "3.80", "currency": "EUR",
        "issue_date": "2026-11-30"}
    assert {r["state"] for r in uploads(env).values()} == {"done"}
    assert uploads(env)["INV-amz-2026-000001"]["remote_ref"] == "feed-1"
    # a refund's credit note goes up too, naming its invoice and the refund
    env.app.store.upsert_order({"key": key, "channel": "amz", "order_id": "U-1", "status": "REFUNDED"})
    env.run()
    cn = UploadChannel.calls[-1]
    assert (cn["kind"], cn["refers_to"], cn["transaction_id"]) == ("credit_note", "INV-amz-2026-000001",
                                                                   "status:REFUNDED")
    assert len(UploadChannel.calls) == 3


def test_an_interrupted_upload_is_held_as_uncertain_and_sent_again_only_when_forced(env):
    env.order("U-3")
    UploadChannel.answers = [TransientError("throttled")]
    env.run()
    (row,) = uploads(env).values()
    assert (row["state"], row["reason"], row["attempts"]) == ("waiting", "throttled", 1)
    # a claim left by a process that is gone: the upload may have reached the marketplace
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    with env.app.store.transaction() as db:
        db.execute("update document_uploads set state = 'claimed', owner = ?",
                   [f"{socket.gethostname()}:{gone.stdout.strip()}"])
    env.app.clock.advance(7 * 3600)
    env.run()
    (row,) = uploads(env).values()
    assert row["state"] == "uncertain" and "may have it" in row["reason"]
    assert UploadChannel.calls == []
    res = cli(env, "invoices", "upload", "INV-amz-2026-000001")
    assert res.exit_code != 0 and "--force" in res.output
    res = cli(env, "invoices", "upload", "INV-amz-2026-000001", "--force")
    assert res.exit_code == 0 and "done" in res.output
    assert len(UploadChannel.calls) == 1


def test_a_refusal_fails_visibly_and_a_channel_that_takes_no_documents_is_named(env):
    env.order("U-4")
    env.order("E-1", channel="ebay-de")
    UploadChannel.answers = [{"ok": False, "error": "FeatureNotAvailable: VCS without self-invoicing"}]
    env.run()
    rows = uploads(env)
    assert rows["INV-amz-2026-000001"]["state"] == "failed"
    assert "FeatureNotAvailable" in rows["INV-amz-2026-000001"]["reason"]
    assert rows["INV-ebay-de-2026-000001"]["state"] == "failed"
    assert "cannot upload invoices" in rows["INV-ebay-de-2026-000001"]["reason"]
    env.run()
    assert [c["doc_no"] for c in UploadChannel.calls] == ["INV-amz-2026-000001"]  # the refused call, not retried


def test_a_manual_flag_holds_the_upload_until_cleared_and_the_portal_list_shows_the_rest(env):
    from marketd.orderflags import mark_manual, unmark_manual

    key = env.order("U-5")
    env.order("M-1", channel="mano")
    env.order("M-2", channel="mano")
    mark_manual(env.app.store, key, by="anna", reason="uploaded in Seller Central", source="cli",
                at=env.app.clock.now().isoformat())
    env.run(), env.run()
    # issuing was blocked for the flagged order: issue it by hand, then the upload waits on the flag
    assert cli(env, "invoices", "issue", key).exit_code == 0
    env.run()
    rows = uploads(env)
    assert rows["INV-amz-2026-000001"]["state"] == "waiting"
    assert "flagged as handled by hand" in rows["INV-amz-2026-000001"]["reason"]
    assert UploadChannel.calls == []
    unmark_manual(env.app.store, key, by="anna", reason="not done", at=env.app.clock.now().isoformat())
    env.app.clock.advance(3601)
    env.run()
    assert [c["order_id"] for c in UploadChannel.calls] == ["U-5"]

    pending = env.app.outbox_dir / "reports" / "invoices-pending-upload-mano.csv"
    listed = list(csv.DictReader(pending.open(encoding="utf-8")))
    assert [(r["order_id"], r["doc_no"]) for r in listed] == [("M-1", "INV-mano-2026-000001"),
                                                              ("M-2", "INV-mano-2026-000002")]
    assert "Nováková" not in pending.read_text(encoding="utf-8")  # no buyer data in the list
    res = cli(env, "invoices", "mark-uploaded", "INV-mano-2026-000001", "--ref", "toolbox-77")
    assert res.exit_code == 0 and "by anna" in res.output
    env.run()
    assert [r["order_id"] for r in csv.DictReader(pending.open(encoding="utf-8"))] == ["M-2"]
    assert uploads(env)["INV-mano-2026-000001"]["remote_ref"] == "toolbox-77"


def test_the_pending_list_is_rewritten_only_when_it_changes(env):
    env.order("M-9", channel="mano")
    env.run()
    pending = env.app.outbox_dir / "reports" / "invoices-pending-upload-mano.csv"
    inode = pending.stat().st_ino
    env.run()
    assert pending.stat().st_ino == inode  # same list: same file (an ERP push would send it again)
    env.order("M-10", channel="mano")
    env.run()
    assert pending.stat().st_ino != inode and "M-10" in pending.read_text(encoding="utf-8")
