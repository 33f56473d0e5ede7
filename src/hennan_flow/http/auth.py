"""Who is calling: a bearer JWT verified against the configured JWKS, or an API key (DESIGN §11).

Tokens are verified with PyJWT: RS256 or ES256 only (never `none` or HMAC), signature by the key
the token's `kid` names, `exp`, `iss` and `aud` required and checked with the configured leeway.
The configured claim (default `sub`) names the directory user; the engine then applies §8 to that
user exactly as to a CLI actor.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt

from ..errors import ConfigError
from .settings import ALGORITHMS, Settings

__all__ = ["TokenVerifier", "Unauthenticated"]


class Unauthenticated(Exception):
    """No credentials, or credentials that do not verify (HTTP 401). Only the HTTP layer raises it,
    so it stays outside the library's error tree (errors.py)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class TokenVerifier:
    """Verifies bearer tokens against a JWKS file (read once) or URL (fetched and cached by kid)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._keys: jwt.PyJWKSet | None = None
        self._client: jwt.PyJWKClient | None = None
        source = settings.jwks
        if source is None:
            return
        if source.startswith(("https://", "http://")):
            self._client = jwt.PyJWKClient(source, cache_keys=True, lifespan=300, timeout=10)
            return
        try:
            document = json.loads(Path(source).read_text(encoding="utf-8"))
            self._keys = jwt.PyJWKSet.from_dict(document)
        except (OSError, ValueError, jwt.PyJWKError, jwt.PyJWKSetError) as exc:
            raise ConfigError(
                f"cannot read the JWKS {source}: {exc}", hint="a JSON Web Key Set file"
            ) from exc

    @property
    def remote(self) -> bool:
        """Whether verifying may fetch keys over the network (a JWKS URL)."""
        return self._client is not None

    @property
    def enabled(self) -> bool:
        return self._keys is not None or self._client is not None

    def _key(self, token: str) -> Any:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the bearer token is malformed: {exc}") from None
        if header.get("alg") not in ALGORITHMS:
            raise Unauthenticated(f"token algorithm {header.get('alg')!r} is not accepted (RS256, ES256)")
        kid = header.get("kid")
        try:
            if self._client is not None:
                return self._client.get_signing_key_from_jwt(token).key
            assert self._keys is not None
            if kid is None:
                if len(self._keys.keys) == 1:
                    return self._keys.keys[0].key
                raise Unauthenticated("the bearer token names no key (kid)")
            return self._keys[kid].key
        except KeyError:
            raise Unauthenticated(f"the bearer token's key {kid!r} is not in the JWKS") from None
        except jwt.PyJWKClientError as exc:
            raise Unauthenticated(f"the bearer token's key could not be fetched: {exc}") from None

    def user(self, token: str) -> str:
        """The directory user a token names; Unauthenticated when it does not verify."""
        if not self.enabled:
            raise Unauthenticated(
                "bearer tokens are not configured on this server", hint="send X-API-Key, or set --jwks"
            )
        s = self.settings
        try:
            claims = jwt.decode(
                token,
                self._key(token),
                algorithms=list(ALGORITHMS),
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the bearer token has expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("the bearer token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("the bearer token is from another issuer") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the bearer token does not verify: {exc}") from None
        user = claims.get(s.user_claim)
        if not isinstance(user, str) or not user:
            raise Unauthenticated(f"the bearer token has no {s.user_claim!r} claim naming a user")
        return user
