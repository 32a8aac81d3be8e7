"""What a test needs from the machine (sshd, the official API models …): skip locally with the
reason, fail under CI, where the image is supposed to carry everything the suite needs — so a
missing prerequisite never turns a contract or an end-to-end test into a silent pass in CI."""
from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def unavailable(reason: str):
    """Skip locally; fail under CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip; .ci/run installs it)", pytrace=False)
    pytest.skip(reason)
