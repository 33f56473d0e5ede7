"""`hennan-flow serve`: the HTTP service (DESIGN §11; docs/http.md)."""

from __future__ import annotations

import os

import click

from ..errors import ConfigError
from ._context import CliContext, pass_cli

__all__ = ["serve"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="TCP port.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes.")
@click.option(
    "--jwks", envvar="HENNAN_FLOW_JWKS", default=None, help="JWKS file or URL (env HENNAN_FLOW_JWKS)."
)
@click.option("--jwt-issuer", envvar="HENNAN_FLOW_JWT_ISSUER", default=None, help="Issuer tokens must carry.")
@click.option(
    "--jwt-audience", envvar="HENNAN_FLOW_JWT_AUDIENCE", default=None, help="Audience tokens must carry."
)
@click.option(
    "--jwt-user-claim",
    envvar="HENNAN_FLOW_JWT_USER_CLAIM",
    default="sub",
    show_default=True,
    help="The claim naming the directory user.",
)
@click.option(
    "--jwt-leeway",
    envvar="HENNAN_FLOW_JWT_LEEWAY",
    type=click.FloatRange(0, 600),
    default=30.0,
    show_default=True,
    help="Clock skew allowed on exp/nbf/iat (seconds).",
)
@click.option(
    "--forwarded-allow-ips",
    envvar="HENNAN_FLOW_FORWARDED_ALLOW_IPS",
    default=None,
    help="Reverse proxies whose X-Forwarded-* headers are trusted (default 127.0.0.1).",
)
@click.option(
    "--max-body",
    envvar="HENNAN_FLOW_MAX_BODY",
    type=click.IntRange(0, 2**40),
    default=1024 * 1024,
    show_default=True,
    help="Largest request body in bytes; a larger one is answered 413 unread.",
)
@pass_cli
def serve(
    obj: CliContext,
    host: str,
    port: int,
    workers: int,
    jwks: str | None,
    jwt_issuer: str | None,
    jwt_audience: str | None,
    jwt_user_claim: str,
    jwt_leeway: float,
    forwarded_allow_ips: str | None,
    max_body: int,
) -> None:
    """Serve the engine over HTTP (OpenAPI at /openapi.json); needs the http extra."""
    try:
        from ..http.server import serve as run
        from ..http.settings import Settings
    except ModuleNotFoundError as exc:
        raise ConfigError(f"HTTP 服务需要 {exc.name}", hint="安装：pip install 'hennan-flow[http]'") from None
    url = obj.database_url()
    settings = Settings(
        jwks=jwks, issuer=jwt_issuer, audience=jwt_audience, user_claim=jwt_user_claim, leeway=jwt_leeway
    )
    from ..http.auth import TokenVerifier

    TokenVerifier(settings)  # a bad JWKS file is refused here, before the workers start
    obj.engine().status()  # the database opens (and says so if it cannot) before the workers start
    obj.close()
    env = {
        "HENNAN_FLOW_DB": url,
        "HENNAN_FLOW_JWKS": jwks or "",
        "HENNAN_FLOW_JWT_ISSUER": jwt_issuer or "",
        "HENNAN_FLOW_JWT_AUDIENCE": jwt_audience or "",
        "HENNAN_FLOW_JWT_USER_CLAIM": jwt_user_claim,
        "HENNAN_FLOW_JWT_LEEWAY": str(jwt_leeway),
        "HENNAN_FLOW_SERVE_NOW": obj.now or "",
        "HENNAN_FLOW_MAX_BODY": str(max_body),  # a simulation database's fixed clock (training)
    }
    if obj.allow_plaintext:
        env["HENNAN_FLOW_ALLOW_PLAINTEXT"] = "1"
    os.environ.update(env)
    click.echo(f"hennan-flow serving {host}:{port} ({workers} worker(s))", err=True)
    run(host, port, workers, proxy_headers=True, forwarded_allow_ips=forwarded_allow_ips)
