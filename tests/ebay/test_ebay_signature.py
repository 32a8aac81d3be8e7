"""RFC 9421 signatures with Ed25519: the RFC's own example, and eBay's headers on Finances calls
only when ``digital_signature`` is set (EU/UK sellers)."""
from __future__ import annotations

import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from marketd.clock import FakeClock
from marketd.errors import ConfigError
from marketd.plugins.ebay import signature
from marketd.plugins.ebay.client import EbayApiError
from marketd.plugins.ebay.settings import env_name

# RFC 9421, appendix B.1.4 (test-key-ed25519) and B.2.6 (signing a request with it).
RFC_KEY = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----"""
RFC_PUBLIC = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----"""
RFC_HEADERS = {"Date": "Tue, 20 Apr 2021 02:07:55 GMT", "Content-Type": "application/json", "Content-Length": "18"}
RFC_URL = "https://example.com/foo?param=Value&Pet=dog"
RFC_COMPONENTS = ("date", "@method", "@path", "@authority", "content-type", "content-length")
RFC_SIGNATURE = "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"
RFC_BASE = '''"date": Tue, 20 Apr 2021 02:07:55 GMT
"@method": POST
"@path": /foo
"@authority": example.com
"content-type": application/json
"content-length": 18
"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"'''


def test_the_rfc_9421_ed25519_example():
    params = signature.signature_params(RFC_COMPONENTS, 1618884473, "test-key-ed25519")
    assert signature.signature_base(RFC_COMPONENTS, "POST", RFC_URL, RFC_HEADERS, params) == RFC_BASE
    out = signature.sign(signature.load_private_key(RFC_KEY), RFC_COMPONENTS, "POST", RFC_URL, RFC_HEADERS,
                         1618884473, label="sig-b26", keyid="test-key-ed25519")
    assert out["Signature"] == RFC_SIGNATURE
    assert out["Signature-Input"] == 'sig-b26=' + params
    pub = signature.load_public_key(RFC_PUBLIC)
    assert signature.verify(pub, "POST", RFC_URL, {**RFC_HEADERS, **out}, required=()) == []
    tampered = {**RFC_HEADERS, **out, "Content-Length": "19"}
    assert signature.verify(pub, "POST", RFC_URL, tampered, required=()) == \
        ["the signature does not verify with the registered key"]


def test_ebay_headers_for_a_get_and_a_post():
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    signer = signature.Signer(pem, "eyJ.jwe.value", FakeClock())
    get = signer.headers("GET", "https://apiz.ebay.com/sell/finances/v1/payout?limit=200")
    assert get["x-ebay-signature-key"] == "eyJ.jwe.value" and "Content-Digest" not in get
    assert get["Signature-Input"].startswith('sig1=("x-ebay-signature-key" "@method" "@path" "@authority");created=')
    assert signature.verify(key.public_key(), "GET", "https://apiz.ebay.com/sell/finances/v1/payout", get) == []
    post = signer.headers("POST", "https://api.ebay.com/x", b'{"a":1}')
    assert post["Content-Digest"] == signature.content_digest(b'{"a":1}')
    assert post["Signature-Input"].startswith('sig1=("content-digest" "x-ebay-signature-key"')
    # the other host or path does not verify
    assert signature.verify(key.public_key(), "GET", "https://apiz.ebay.com/sell/finances/v1/transaction", get)


def test_a_key_that_is_not_ed25519_is_refused_clearly():
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(signature.SignatureError, match="not an Ed25519 key"):
        signature.load_private_key(other)
    with pytest.raises(signature.SignatureError, match="not a PEM private key"):
        signature.load_private_key("not a key")


def _payout(fake):
    orders = fake.populate(3, days=2)
    for o in orders:
        fake.touch(o["orderId"], orderFulfillmentStatus="FULFILLED")
    return fake.make_payout()


def test_an_eu_seller_without_signatures_gets_a_fix(fake, make_app, keypair):
    from marketd.plugins.ebay.payouts import fetch_payouts

    _payout(fake)
    app = make_app(shop={"settlements_fetch": True})
    with pytest.raises(EbayApiError, match="215120.*digital_signature = true"):
        fetch_payouts(app, app.channel("shop"))


def test_signed_finances_calls_pass_and_fulfillment_calls_carry_no_signature(fake, make_app, keypair):
    from marketd.plugins.ebay.payouts import fetch_payouts

    payout = _payout(fake)
    app = make_app(shop={"settlements_fetch": True, "orders_sync": True, "digital_signature": True})
    ch = app.channel("shop")
    files = fetch_payouts(app, ch)
    assert [f.name for f in files] == [f"ebay-shop-payout-{payout['payoutId']}.json"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    fin = fake.calls_of("getPayouts") + fake.calls_of("getTransactions")
    assert fin and all(c.status in (200, 204) and c.headers["signature"] == "***" for c in fin)
    assert all("signature-input" in c.headers for c in fin)
    ch.sync_orders(None)
    assert all("signature-input" not in c.headers and "x-ebay-signature-key" not in c.headers
               for c in fake.calls_of("getOrders"))


def test_a_broken_signing_key_stops_at_configuration(fake, make_app, monkeypatch, keypair):
    monkeypatch.setenv(env_name("shop", "SIGNING_KEY"), "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----")
    app = make_app(shop={"settlements_fetch": True, "digital_signature": True})
    with pytest.raises(ConfigError, match="digital_signature: the signing key is not a PEM private key"):
        app.channel("shop").api
