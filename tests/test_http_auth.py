"""Bearer tokens against a JWKS served over HTTP, and the settings the service refuses."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import jwt
import pytest

from helpers import cli, http_server
from hennan_flow.errors import ConfigError
from hennan_flow.http.auth import TokenVerifier, Unauthenticated
from hennan_flow.http.settings import Settings
from http_service import AUDIENCE, ISSUER, Keys


def test_a_jwks_url_is_fetched_and_its_keys_verify_tokens(tmp_path: Path) -> None:
    keys = Keys(tmp_path)
    body = keys.jwks.read_bytes()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with http_server(Jwks) as base:
        verifier = TokenVerifier(Settings(jwks=f"{base}/certs", issuer=ISSUER, audience=AUDIENCE))
        assert verifier.user(keys.token("amr-h1")) == "amr-h1"
        assert verifier.user(keys.token("tax-h1", alg="ES256")) == "tax-h1"
        with pytest.raises(Unauthenticated, match="expired"):
            verifier.user(keys.token("amr-h1", expires_in=-120))
        with pytest.raises(Unauthenticated, match="audience"):
            verifier.user(keys.token("amr-h1", audience="someone-else"))


def test_only_rs256_and_es256_are_accepted(tmp_path: Path) -> None:
    keys = Keys(tmp_path)
    verifier = TokenVerifier(Settings(jwks=str(keys.jwks), issuer=ISSUER, audience=AUDIENCE))
    now = int(time.time())
    claims = {"sub": "admin-he", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 60}
    for token in (
        jwt.encode(
            claims, "a shared secret of thirty-two bytes!", algorithm="HS256", headers={"kid": "rsa-1"}
        ),
        jwt.encode(claims, None, algorithm="none"),
    ):
        with pytest.raises(Unauthenticated, match="not accepted"):
            verifier.user(token)
    with pytest.raises(Unauthenticated, match="claim"):
        verifier.user(
            jwt.encode({**claims, "sub": ""}, keys.rsa, algorithm="RS256", headers={"kid": "rsa-1"})
        )


def test_bad_settings_are_refused_before_serving(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="issuer and audience"):
        Settings(jwks="jwks.json")
    with pytest.raises(ConfigError, match="HENNAN_FLOW_JWT_LEEWAY"):
        Settings.from_env({"HENNAN_FLOW_JWT_LEEWAY": "soon"})
    bad = tmp_path / "jwks.json"
    bad.write_text("{not json", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'hf.db'}"
    rc, out, err = cli(
        capsys, "--db", db, "serve", "--jwks", str(bad), "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE
    )
    assert rc == 2 and out == "" and err.startswith("错误：cannot read the JWKS") and err.count("\n") == 1
