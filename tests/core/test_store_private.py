"""The store holds buyer names and addresses: its files are owner-only whatever the umask."""
import os
import stat

from marketd.store import Store


def test_store_files_are_owner_only_under_a_permissive_umask(tmp_path):
    old = os.umask(0o022)
    try:
        store = Store(tmp_path / "state" / "marketd.sqlite")
        store.upsert_order({"channel": "shop", "channel_type": "manual", "order_id": "1", "status": "NEW",
                            "purchased_at": "2026-11-29T08:00:00+00:00", "updated_at": "2026-11-29T08:00:00+00:00",
                            "currency": "EUR", "total": "1.00", "buyer_name": "Erika Muster", "items": []})
        files = [p for p in (tmp_path / "state").iterdir() if p.name.startswith("marketd.sqlite")]
        assert {p.name for p in files} >= {"marketd.sqlite", "marketd.sqlite-wal"}
        for p in files:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        store.close()
    finally:
        os.umask(old)


def test_an_existing_world_readable_store_is_tightened_at_start(tmp_path):
    path = tmp_path / "marketd.sqlite"
    Store(path).close()
    os.chmod(path, 0o644)
    Store(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
