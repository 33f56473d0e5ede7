"""`hennan-flow serve`: the app under uvicorn, one or several worker processes.

Workers are separate processes (each its own engine and connection pool) started by uvicorn from
`factory`, which reads the database URL and the token settings from the environment the command set.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

from ..engine.facade import Engine

__all__ = ["factory", "serve"]


def factory() -> FastAPI:
    """The app of a worker process: HENNAN_FLOW_DB, the HENNAN_FLOW_JWT* settings and, on a
    simulation database, the fixed clock of `serve --now` (HENNAN_FLOW_SERVE_NOW)."""
    from ..clock.instants import parse_instant
    from ..services.licences import HttpLicenceProvider
    from . import create_app
    from .limits import MAX_BODY
    from .settings import Settings

    service = os.environ.get("HENNAN_FLOW_LICENCE_URL")
    now = os.environ.get("HENNAN_FLOW_SERVE_NOW")
    engine = Engine(
        os.environ.get("HENNAN_FLOW_DB", "sqlite:///hennan_flow.db"),
        clock=parse_instant(now, what="--now") if now else None,
        licences=HttpLicenceProvider(service) if service else None,
    )
    from ..web.routes import routers

    max_body = int(os.environ.get("HENNAN_FLOW_MAX_BODY") or MAX_BODY)
    return create_app(engine, settings=Settings.from_env(), routers=routers(), max_body=max_body)


def serve(
    host: str, port: int, workers: int, *, proxy_headers: bool, forwarded_allow_ips: str | None
) -> None:
    """Run uvicorn until interrupted (SIGINT/SIGTERM end it gracefully)."""
    import uvicorn

    uvicorn.run(
        "hennan_flow.http.server:factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        log_level=os.environ.get("HENNAN_FLOW_LOG_LEVEL", "warning"),
        access_log=False,
        server_header=False,
        http=_protocol(),
    )


def _protocol() -> Any:
    """uvicorn's httptools protocol sending each response in one write (wire.py), where httptools is
    installed; else uvicorn's choice."""
    try:
        from .wire import Protocol
    except ImportError:
        return "auto"
    return Protocol
