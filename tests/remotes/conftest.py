"""Fixtures for the remotes plugin: ERP-side SFTP servers on loopback and apps pointed at them."""
from __future__ import annotations

import pytest

from tests.remotes.erp import AsyncErp, ErpSSHD, remote_section


@pytest.fixture
def erp_sshd(tmp_path):
    server = ErpSSHD(tmp_path / "sshd").start()
    server.mkdirs("export", "import")
    yield server
    server.stop()


@pytest.fixture
def async_erp(tmp_path):
    server = AsyncErp(tmp_path / "async-erp-root", tmp_path / "async-erp-keys")
    server.mkdirs("export", "import")
    yield server
    server.stop()


@pytest.fixture
def remote_app(app_factory):
    """``make(server, pull=[...], push=[...], **remote_keys)`` -> an in-process App with ``[remotes.erp]``."""

    def make(server, *, inbox=None, **kw):
        overrides = {"remotes": {"erp": remote_section(server, **kw)}}
        if inbox:
            overrides["inbox"] = inbox
        return app_factory(**overrides)

    return make
