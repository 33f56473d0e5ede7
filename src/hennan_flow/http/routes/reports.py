"""Reports (红黄牌 supervision, 好差评) and the calendar's status."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Response

from .common import Db, User

__all__ = ["router"]

router = APIRouter(tags=["reports"])


@router.get("/reports/supervision", response_model=None, responses={200: {"description": "the report"}})
def supervision(
    db: Db, _user: User, start: date | None = None, end: date | None = None, department: str | None = None
) -> Response:
    """The 红黄牌 supervision report of a period (`report supervision --format json`)."""
    from ...report.supervision_json import render_json

    record = db.supervision_report(start=start, end=end, department=department)
    return Response(render_json(record), media_type="application/json")


@router.get("/reports/reviews")
def reviews(
    db: Db, _user: User, start: date | None = None, end: date | None = None, department: str | None = None
) -> dict[str, Any]:
    """The 好差评 figures of a period and department."""
    return dict(db.review_summary(start=start, end=end, department=department))


@router.get("/calendar")
def calendar(db: Db, _user: User) -> dict[str, Any]:
    """The stored calendar: sources, years, provisional years, pending deadlines."""
    return db.calendar_status()
