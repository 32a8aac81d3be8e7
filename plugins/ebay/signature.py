"""HTTP Message Signatures (RFC 9421) with Ed25519, as eBay requires them from EU/UK-domiciled
sellers on every Finances API call (design §2.1; eBay "Digital Signatures for APIs").

A signed request carries:

- ``x-ebay-signature-key``: the JWE eBay's Key Management API issued with the key pair;
- ``Signature-Input``: ``sig1=("x-ebay-signature-key" "@method" "@path" "@authority");created=<unix>``
  (``"content-digest"`` first when the request has a body);
- ``Signature``: ``sig1=:<base64 Ed25519 signature of the signature base>:``;
- ``Content-Digest`` (``sha-256=:<base64>:``) only with a body — every Finances call is a GET.

The signature base is RFC 9421 §2.5: one ``"<component>": <value>`` line per covered component,
then ``"@signature-params": <the Signature-Input value after the label>``. The functions here
are generic (any header or derived component), so the RFC's own Ed25519 example (B.2.6) tests
them; :func:`verify` is what the fake eBay uses to check a request.
"""
from __future__ import annotations

import base64
import hashlib
import re
from typing import Mapping
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

LABEL = "sig1"
GET_COMPONENTS = ("x-ebay-signature-key", "@method", "@path", "@authority")
BODY_COMPONENTS = ("content-digest",) + GET_COMPONENTS


class SignatureError(ValueError):
    """A key that is not Ed25519, or a signature header that cannot be read."""


def content_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def _authority(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return f"{host}:{port}" if port and port != default else host


def component_value(name: str, method: str, url: str, headers: Mapping[str, str]) -> str:
    """The value of one covered component (RFC 9421 §2.1, §2.2)."""
    parts = urlsplit(url)
    if name == "@method":
        return method.upper()
    if name == "@path":
        return parts.path or "/"
    if name == "@authority":
        return _authority(url)
    if name == "@scheme":
        return parts.scheme.lower()
    if name == "@query":
        return "?" + parts.query
    if name == "@target-uri":
        return url
    if name.startswith("@"):
        raise SignatureError(f"derived component {name} is not supported")
    lower = {k.lower(): v for k, v in headers.items()}
    if name not in lower:
        raise SignatureError(f"header {name} is covered by the signature but not in the request")
    return re.sub(r"\s+", " ", str(lower[name]).strip())


def signature_params(components, created: int, keyid: str | None = None) -> str:
    inner = " ".join(f'"{c}"' for c in components)
    out = f"({inner});created={int(created)}"
    if keyid:
        out += f';keyid="{keyid}"'
    return out


def signature_base(components, method: str, url: str, headers: Mapping[str, str], params: str) -> str:
    lines = [f'"{c}": {component_value(c, method, url, headers)}' for c in components]
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines)


def load_private_key(pem: str | bytes) -> Ed25519PrivateKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"the signing key is not a PEM private key: {type(exc).__name__}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError("the signing key is not an Ed25519 key (create it with signingKeyCipher ED25519)")
    return key


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    key = load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError("not an Ed25519 public key")
    return key


def sign(key: Ed25519PrivateKey, components, method: str, url: str, headers: Mapping[str, str], created: int,
         label: str = LABEL, keyid: str | None = None) -> dict[str, str]:
    """``Signature-Input`` and ``Signature`` for a request whose other headers are ``headers``."""
    params = signature_params(components, created, keyid)
    base = signature_base(components, method, url, headers, params)
    sig = base64.b64encode(key.sign(base.encode())).decode()
    return {"Signature-Input": f"{label}={params}", "Signature": f"{label}=:{sig}:"}


class Signer:
    """Signs eBay requests for one account: the private key and its JWE, time from ``clock``."""

    def __init__(self, private_key_pem: str | bytes, jwe: str, clock):
        self.key = load_private_key(private_key_pem)
        self.jwe = jwe
        self.clock = clock

    def headers(self, method: str, url: str, body: bytes | None = None) -> dict[str, str]:
        out = {"x-ebay-signature-key": self.jwe}
        components = GET_COMPONENTS
        if body:
            out["Content-Digest"] = content_digest(body)
            components = BODY_COMPONENTS
        created = int(self.clock.now().timestamp())
        out.update(sign(self.key, components, method, url, out, created))
        return out


_INPUT = re.compile(r'^\s*([A-Za-z0-9_-]+)=\(([^)]*)\)((?:;[a-z]+=(?:"[^"]*"|[0-9]+))*)\s*$')
_SIG = re.compile(r"^\s*([A-Za-z0-9_-]+)=:([A-Za-z0-9+/=]+):\s*$")


def verify(public_key: Ed25519PublicKey, method: str, url: str, headers: Mapping[str, str],
           required=GET_COMPONENTS) -> list[str]:
    """Problems with a request's signature ([] when it verifies and covers ``required``)."""
    lower = {k.lower(): v for k, v in headers.items()}
    if not lower.get("signature-input") or not lower.get("signature"):
        return ["Signature and Signature-Input headers are required"]
    m, s = _INPUT.match(lower["signature-input"]), _SIG.match(lower["signature"])
    if not m or not s:
        return ["Signature-Input or Signature is malformed"]
    if m.group(1) != s.group(1):
        return ["Signature and Signature-Input use different labels"]
    components = re.findall(r'"([^"]+)"', m.group(2))
    missing = [c for c in required if c not in components]
    if "content-digest" in lower and "content-digest" not in components:
        missing.append("content-digest")
    if missing:
        return [f"the signature does not cover {', '.join(missing)}"]
    params = f"({m.group(2)}){m.group(3)}"
    try:
        base = signature_base(components, method, url, lower, params)
        public_key.verify(base64.b64decode(s.group(2)), base.encode())
    except SignatureError as exc:
        return [str(exc)]
    except (InvalidSignature, ValueError):
        return ["the signature does not verify with the registered key"]
    return []
