"""A real `hennan-flow serve` process on 127.0.0.1 and the test JWKS its tokens verify against.

`Keys` makes an RS256 and an ES256 key pair, writes their public JWKS and mints tokens with PyJWT;
`served` prepares a database (schema, the sample directory, the enterprise_opening bundle) and runs the server
as a subprocess until the block ends. Tests then talk to it over HTTP only (httpx).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from helpers import OPENING, REPO, migrated
from hennan_flow.engine import Engine

ISSUER = "https://idp.hengnan.test"
AUDIENCE = "hennan-flow"
DIRECTORY = REPO / "src" / "hennan_flow" / "data" / "directory.toml"
ADMIN = "admin-he"
CLERK = "window-wang"


class Keys:
    """The identity provider of the tests: two signing keys and their public JWKS file."""

    def __init__(self, folder: Path) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        keys = []
        for kid, alg, private in (("rsa-1", "RS256", self.rsa), ("ec-1", "ES256", self.ec)):
            public = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(private.public_key()))
            keys.append({**public, "kid": kid, "alg": alg, "use": "sig"})
        self.jwks = folder / "jwks.json"
        self.jwks.write_text(json.dumps({"keys": keys}), encoding="utf-8")

    def token(
        self,
        user: str,
        *,
        alg: str = "RS256",
        audience: str = AUDIENCE,
        issuer: str = ISSUER,
        expires_in: float = 300,
    ) -> str:
        now = int(time.time())
        claims = {"sub": user, "iss": issuer, "aud": audience, "iat": now, "exp": now + int(expires_in)}
        key, kid = (self.rsa, "rsa-1") if alg == "RS256" else (self.ec, "ec-1")
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})

    def headers(self, user: str, **options: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, **options)}"}


def prepare(url: str, *, simulation: bool = False, now: Any = None) -> None:
    """The schema, the sample directory and the enterprise_opening bundle, deployed by the admin."""
    migrated(url, simulation=simulation)
    with Engine(url, clock=now) as engine:
        engine.load_directory(str(DIRECTORY))
        engine.deploy(str(OPENING), actor=ADMIN)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def hennan_flow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a subprocess (what a county admin types)."""
    return subprocess.run(
        [sys.executable, "-m", "hennan_flow", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@contextmanager
def served(
    url: str,
    keys: Keys,
    *,
    now: str | None = None,
    workers: int = 1,
    options: Sequence[str] = (),
    environment: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """`hennan-flow serve [options]` over `url` on a free port while the block runs: its base URL."""
    port = free_port()
    args = [sys.executable, "-m", "hennan_flow", "--db", url]
    if now is not None:
        args += ["--now", now]
    args += ["serve", "--port", str(port), "--workers", str(workers), "--jwks", str(keys.jwks)]
    args += ["--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE, "--jwt-leeway", "5", *options]
    env = {**os.environ, "HENNAN_FLOW_ALLOW_PLAINTEXT": "1", **(environment or {})}
    env.pop("HENNAN_FLOW_ACTOR", None)
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(base: str, process: subprocess.Popen[str]) -> None:
    """Until /healthz answers (the server is up) or the process ended (its output says why)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"hennan-flow serve ended with {process.returncode}: {output}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # a readiness poll of a starting process, not a timing assumption
    raise AssertionError("hennan-flow serve did not answer /healthz within 60 s")
