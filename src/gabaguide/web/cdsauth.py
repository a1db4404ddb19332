"""CDS Hooks 2.0 security: every service call carries a JWT signed by a trusted CDS client.

Trusted issuers come from a JSON file named by ``GABAGUIDE_CDS_ISSUERS``:
``{"<iss>": {"jwks": <JWK Set>}}`` or ``{"<iss>": {"jku": "<allow-listed JWK Set URL>"}}``. A token
passes when its algorithm is ES384 or RS384, its issuer is listed, its signature verifies with the
issuer's key (``kid``), ``aud`` is the endpoint URL called, ``exp``/``iat`` are sound and its
``jti`` was never seen before. Any failure is :class:`UnauthorizedError`, answered 401 with no detail.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt

from gabaguide.errors import InputError

log = logging.getLogger("gabaguide.web.cds")
ALGORITHMS = ("ES384", "RS384")
_KEY_TYPE = {"ES384": "EC", "RS384": "RSA"}
JWKS_CACHE_S = 300.0
JWKS_TIMEOUT_S = 3.0
LEEWAY_S = 30


class UnauthorizedError(Exception):
    """The call's token is missing or not acceptable (the reason is logged, never answered)."""


@dataclass(frozen=True)
class Issuer:
    iss: str
    jwks: Mapping[str, Any] | None = None
    jku: str | None = None


def load_issuers(path: str) -> dict[str, Issuer]:
    """The trusted issuers file; InputError names what is wrong with it."""
    where = f"GABAGUIDE_CDS_ISSUERS ({path})"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError([f"{where} cannot be read: {exc.strerror}"]) from None
    except ValueError:
        raise InputError([f"{where} is not valid JSON"]) from None
    if not isinstance(data, dict):
        raise InputError([f"{where} must be a JSON object of issuers"])
    out: dict[str, Issuer] = {}
    problems: list[str] = []
    for iss, entry in data.items():
        if not isinstance(entry, dict) or ("jwks" in entry) == ("jku" in entry):
            problems.append(f"{where}: issuer {iss!r} needs exactly one of 'jwks' or 'jku'")
            continue
        jwks, jku = entry.get("jwks"), entry.get("jku")
        if jwks is not None:
            try:
                jwt.PyJWKSet.from_dict(jwks)
            except (jwt.PyJWKSetError, jwt.InvalidKeyError, TypeError, KeyError):
                problems.append(f"{where}: issuer {iss!r} has no usable key in its 'jwks'")
                continue
        if jku is not None and not (
            isinstance(jku, str) and jku.startswith(("https://", "http://"))
        ):
            problems.append(f"{where}: issuer {iss!r} 'jku' must be an http(s) URL")
            continue
        out[iss] = Issuer(iss, jwks, jku)
    if problems:
        raise InputError(problems)
    return out


def fetch_jwks(url: str) -> Mapping[str, Any]:
    """A JWK Set over HTTP (bounded time-out)."""
    response = httpx.get(url, timeout=JWKS_TIMEOUT_S, follow_redirects=False)
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, dict):
        raise ValueError("not a JWK Set")
    return data


@dataclass
class Verifier:
    issuers: Mapping[str, Issuer]
    first_use: Callable[[str, str, datetime], bool]
    """Records an (issuer, jti) until the expiry; False when it was seen before."""
    fetch: Callable[[str], Mapping[str, Any]] = fetch_jwks
    _cache: dict[str, tuple[float, jwt.PyJWKSet]] = field(default_factory=dict)

    def verify(self, authorization: str | None, audience: list[str]) -> dict[str, Any]:
        try:
            return self._verify(authorization, audience)
        except UnauthorizedError:
            raise
        except (jwt.PyJWTError, ValueError, KeyError, TypeError, httpx.HTTPError) as exc:
            log.warning("CDS call refused: %s", type(exc).__name__)
            raise UnauthorizedError from None

    def _verify(self, authorization: str | None, audience: list[str]) -> dict[str, Any]:
        if not authorization or not authorization.startswith("Bearer "):
            raise _refuse("no bearer token")
        token = authorization[len("Bearer ") :].strip()
        header = jwt.get_unverified_header(token)
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise _refuse("algorithm not allowed")
        claims = jwt.decode(token, options={"verify_signature": False})
        issuer = self.issuers.get(str(claims.get("iss")))
        if issuer is None:
            raise _refuse("unknown issuer")
        key = self._key(issuer, header, alg)
        verified: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=audience,
            issuer=issuer.iss,
            leeway=LEEWAY_S,
            options={"require": ["iss", "aud", "exp", "iat", "jti"]},
        )
        if float(verified["iat"]) > time.time() + LEEWAY_S:
            raise _refuse("issued in the future")
        expires = datetime.fromtimestamp(float(verified["exp"]) + LEEWAY_S, UTC)
        if not self.first_use(issuer.iss, str(verified["jti"]), expires):
            raise _refuse("jti replayed")
        return verified

    def _key(self, issuer: Issuer, header: Mapping[str, Any], alg: str) -> Any:
        jku = header.get("jku")
        if issuer.jwks is not None:
            if jku is not None:
                raise _refuse("jku given for an issuer with a configured key set")
            keys = jwt.PyJWKSet.from_dict(dict(issuer.jwks))
        else:
            if jku is not None and jku != issuer.jku:
                raise _refuse("jku not allow-listed")
            keys = self._remote(str(issuer.jku))
        kid = header.get("kid")
        candidates = [k for k in keys.keys if kid is None or k.key_id == kid]
        if len(candidates) != 1 or candidates[0].key_type != _KEY_TYPE[alg]:
            raise _refuse("no matching key")
        if alg == "ES384" and candidates[0].algorithm_name != "ES384":
            raise _refuse("key is not on curve P-384")
        return candidates[0].key

    def _remote(self, url: str) -> jwt.PyJWKSet:
        cached = self._cache.get(url)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        keys = jwt.PyJWKSet.from_dict(dict(self.fetch(url)))
        self._cache[url] = (time.monotonic() + JWKS_CACHE_S, keys)
        return keys


def _refuse(reason: str) -> UnauthorizedError:
    log.warning("CDS call refused: %s", reason)
    return UnauthorizedError()
