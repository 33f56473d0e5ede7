"""The HTTP service's settings: how bearer tokens are verified (DESIGN §11).

Every setting has a `hennan-flow serve` option and an environment variable:

| setting | option | environment |
|---|---|---|
| jwks | `--jwks FILE-or-URL` | `HENNAN_FLOW_JWKS` |
| issuer | `--jwt-issuer` | `HENNAN_FLOW_JWT_ISSUER` |
| audience | `--jwt-audience` | `HENNAN_FLOW_JWT_AUDIENCE` |
| user_claim | `--jwt-user-claim` (default `sub`) | `HENNAN_FLOW_JWT_USER_CLAIM` |
| leeway | `--jwt-leeway` seconds (default 30) | `HENNAN_FLOW_JWT_LEEWAY` |

Without a JWKS only API keys (`X-API-Key`) authenticate.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["ALGORITHMS", "Settings"]

ALGORITHMS = ("RS256", "ES256")


@dataclass(frozen=True)
class Settings:
    """Token verification: the JWKS (a file or an https URL), the issuer and audience every token
    must carry, the claim naming the directory user and the clock skew allowed (seconds)."""

    jwks: str | None = None
    issuer: str | None = None
    audience: str | None = None
    user_claim: str = "sub"
    leeway: float = 30.0

    def __post_init__(self) -> None:
        if self.jwks and not (self.issuer and self.audience):
            raise ConfigError(
                "a JWKS needs the issuer and audience tokens must carry",
                hint="pass --jwt-issuer and --jwt-audience (env HENNAN_FLOW_JWT_ISSUER / _AUDIENCE)",
            )
        if not self.user_claim:
            raise ConfigError("the user claim must be named", hint="pass --jwt-user-claim (default sub)")
        if not 0 <= self.leeway <= 600:
            raise ConfigError("the token leeway is 0 to 600 seconds", hint="pass --jwt-leeway 0..600")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        leeway = env.get("HENNAN_FLOW_JWT_LEEWAY", "30")
        try:
            seconds = float(leeway)
        except ValueError:
            raise ConfigError(
                f"HENNAN_FLOW_JWT_LEEWAY is not a number of seconds: {leeway!r}", hint="e.g. 30"
            ) from None
        return cls(
            jwks=env.get("HENNAN_FLOW_JWKS") or None,
            issuer=env.get("HENNAN_FLOW_JWT_ISSUER") or None,
            audience=env.get("HENNAN_FLOW_JWT_AUDIENCE") or None,
            user_claim=env.get("HENNAN_FLOW_JWT_USER_CLAIM") or "sub",
            leeway=seconds,
        )
