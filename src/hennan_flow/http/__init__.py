"""The HTTP service (DESIGN §11): the engine for portals, over FastAPI.

Usage::

    from hennan_flow.http import Settings, create_app
    app = create_app("sqlite:///hennan_flow.db", settings=Settings(jwks="jwks.json", issuer=…, audience=…))
    # or: hennan-flow serve --host 127.0.0.1 --port 8080 --workers 4

Every route is a thin layer over `Engine`'s public API and acts as the authenticated directory user
(`deps.current_user`), so the engine applies §8 to it. Routers passed as `routers=` are included
after the service's own (the workbench pages mount that way). Needs the `http` extra
(`pip install hennan-flow[http]`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI

from ..engine.facade import Engine
from .auth import TokenVerifier
from .limits import MAX_BODY, BodyLimit
from .settings import Settings

__all__ = ["Settings", "create_app"]


def create_app(
    engine_or_db_url: Engine | str,
    *,
    settings: Settings | None = None,
    routers: Sequence[APIRouter] = (),
    max_body: int = MAX_BODY,
) -> FastAPI:
    """The ASGI app serving `engine_or_db_url` (an Engine, or a database URL to open one); a request
    body over `max_body` bytes (default 1 MiB) is answered 413 without being read (limits.py)."""
    from importlib.metadata import version

    from . import openapi, problems
    from .hot import HotRoutes
    from .routes import HOT, ROUTERS

    settings = settings or Settings.from_env()
    engine = engine_or_db_url if isinstance(engine_or_db_url, Engine) else Engine(engine_or_db_url)
    app = FastAPI(
        title="hennan-flow",
        version=version("hennan-flow"),
        summary="一件事一次办 service bundles as BPMN: cases, work queues, 红黄牌 supervision",
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.verifier = TokenVerifier(settings)
    problems.install(app)
    app.add_middleware(BodyLimit, max_body=max_body)
    for router in (*ROUTERS, *routers):
        app.include_router(router)
    app.router.middleware_stack = HotRoutes(app.router.middleware_stack, HOT)

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi.document(app)
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]
    return app
