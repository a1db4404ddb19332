"""JWTs for the CDS Hooks tests: an EHR's signing keys (ES384 on P-384, RS384), their JWK Sets, and
tokens signed the way a CDS client signs them — or crafted by hand the way an attacker would (no
algorithm, an HMAC keyed with the public key).

Every claim and header can be overridden; a claim given as :data:`DROP` is left out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

DROP: Any = object()
"""A claim or header value meaning "leave this one out"."""


@dataclass(frozen=True)
class SigningKey:
    alg: Literal["ES384", "RS384"]
    kid: str
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK, with its ``kid``, ``alg`` and ``use``."""
        public = self.private.public_key()
        if isinstance(public, ec.EllipticCurvePublicKey):
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def es384_key(kid: str | None = None) -> SigningKey:
    return SigningKey(
        "ES384", kid or f"es-{uuid.uuid4().hex[:8]}", ec.generate_private_key(ec.SECP384R1())
    )


def rs384_key(kid: str | None = None) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey("RS384", kid or f"rs-{uuid.uuid4().hex[:8]}", private)


def jwk_set(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [k.public_jwk() for k in keys]}


def claims(issuer: str, audience: str, **overrides: Any) -> dict[str, Any]:
    """A CDS client's claims (valid for five minutes, a fresh ``jti``), with ``overrides`` (any
    claim, ``iss`` and ``aud`` included)."""
    now = int(time.time())
    out: dict[str, Any] = {
        "iss": issuer,
        "sub": "cds-client",
        "aud": audience,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    out.update(overrides)
    return {name: value for name, value in out.items() if value is not DROP}


def sign(
    key: SigningKey,
    issuer: str,
    audience: str,
    headers: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> str:
    """A token signed with ``key`` (its ``kid`` in the header unless ``headers`` says otherwise)."""
    header = {"kid": key.kid, **(headers or {})}
    header = {name: value for name, value in header.items() if value is not DROP}
    return jwt.encode(
        claims(issuer, audience, **overrides), key.private, algorithm=key.alg, headers=header
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: Mapping[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def unsigned(header: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """``header.payload.`` with an empty signature (``alg: none``), built by hand."""
    return f"{_segment(header)}.{_segment(payload)}."


def hs256(secret: bytes, header: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """A token MACed with HS256 under ``secret`` (e.g. a public key's PEM), built by hand: PyJWT
    itself refuses to use an asymmetric key as an HMAC secret."""
    signing_input = f"{_segment({'alg': 'HS256', **header})}.{_segment(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
