"""Every workbench router, for `create_app(..., routers=routers())` (what `hennan-flow serve` mounts)."""

from __future__ import annotations

from fastapi import APIRouter

from . import boards, pages

__all__ = ["routers"]


def routers() -> list[APIRouter]:
    return [pages.router(), boards.router()]
