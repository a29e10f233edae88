"""Bearer tokens (JWT, HS256, signed with HUB_SECRET) → the caller's scope.

Claims: `role` (municipality | region | provider | public | admin), plus `municipality`
(4-digit CBS code) for the municipality role or `provider` (8-digit AGB) for the provider role.
"""

from __future__ import annotations

import time
from collections.abc import Collection

import jwt

from hub.db import Scope

ROLES = ("municipality", "region", "provider", "public", "admin")
_ALGORITHM = "HS256"
_ISSUER = "hub"


class AuthError(Exception):
    """The request carries no usable token; the message says what is wrong."""


def issue(
    secret: str,
    role: str,
    *,
    municipality: str | None = None,
    provider: str | None = None,
    subject: str | None = None,
    ttl_seconds: int = 30 * 24 * 3600,
) -> str:
    scope = _validate(role, municipality, provider)
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": _ISSUER,
        "iat": now,
        "exp": now + ttl_seconds,
        "role": scope.role,
        "sub": subject or scope.role,
    }
    if scope.municipality:
        claims["municipality"] = scope.municipality
    if scope.provider:
        claims["provider"] = scope.provider
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


# Tokens verified before -> (scope, expiry): a dashboard sends the same token with every
# request, and checking its signature and claims costs more than a small answer. An entry
# is used only until the token expires; the cache starts over when full.
_VERIFIED: dict[tuple[str, str], tuple[Scope, float]] = {}
_VERIFIED_MAX = 1_024


def verify(secret: str, token: str, region: Collection[str] | None = None) -> Scope:
    entry = _VERIFIED.get((secret, token))
    scope = entry[0] if entry is not None and time.time() < entry[1] else _verified(secret, token)
    if region is not None and scope.municipality and scope.municipality not in region:
        raise AuthError(f"municipality {scope.municipality} is not in this hub's region")
    return scope


def _verified(secret: str, token: str) -> Scope:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            issuer=_ISSUER,
            options={"require": ["exp", "iat", "role"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("the token has expired; get a new one with `hub token`") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError("the token is not valid for this hub") from exc
    scope = _validate(
        str(claims.get("role")),
        claims.get("municipality"),
        claims.get("provider"),
        subject=str(claims.get("sub") or ""),
    )
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[(secret, token)] = (scope, float(claims["exp"]))
    return scope


def from_header(secret: str, header: str | None, region: Collection[str] | None = None) -> Scope:
    if not header:
        raise AuthError(
            "missing Authorization header; send `Authorization: Bearer <token>` "
            "(get a token with `hub token --role ...`)"
        )
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header must be `Bearer <token>`")
    return verify(secret, token.strip(), region)


def _validate(
    role: str, municipality: object, provider: object, subject: str | None = None
) -> Scope:
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if role == "municipality":
        if not (
            isinstance(municipality, str) and len(municipality) == 4 and municipality.isdigit()
        ):
            raise AuthError("the municipality role needs a 4-digit municipality code")
        return Scope(role, municipality=municipality, actor=subject)
    if role == "provider":
        if not (isinstance(provider, str) and len(provider) == 8 and provider.isdigit()):
            raise AuthError("the provider role needs an 8-digit AGB code")
        return Scope(role, provider=provider, actor=subject)
    if municipality or provider:
        raise AuthError(f"the {role} role takes no municipality or provider")
    return Scope(role, actor=subject)
