"""The log filter masks the signature of presigned links (an httpx request line at INFO, an
exception naming the URL): whoever has it can fetch the document, and an Amazon Custom archive
is a buyer's personal data."""
from __future__ import annotations

from marketd.logs import redact


def test_presigned_signatures_are_masked_and_the_rest_of_the_link_kept():
    line = ('HTTP Request: GET https://s3.example/__s3/doc?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261102T090000Z'
            '&X-Amz-Credential=AKIA%2F20261102&X-Amz-Signature=35a2b92e40a9ce6de7&Signature=abc "HTTP/1.1 200 OK"')
    out = redact(line)
    for secret in ("35a2b92e40a9ce6de7", "AKIA%2F20261102", "Signature=abc"):
        assert secret not in out
    assert "X-Amz-Signature=***" in out and "X-Amz-Date=20261102T090000Z" in out and '"HTTP/1.1 200 OK"' in out
    assert redact("MySignature=kept") == "MySignature=kept"  # only the parameter itself


def test_the_pattern_handles_megabyte_values():
    """Possessive runs: a backtracking pattern would not finish these (the test's timeout)."""
    assert redact("Signature=" + "a" * 2_000_000) == "Signature=***"
    assert redact("x" * 2_000_000 + "signature").endswith("signature")
