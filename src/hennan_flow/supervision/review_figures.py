"""The 好差评 section of the supervision report: the reviews of a period and department, as of an instant.

The figures the report's `reviews` block holds (`figures.ReviewSummary`), from the review records
`services.reviews` keeps; the period's days are the report's own (`facts.Scope.bounds`).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock.instants import local_iso
from ..db.service_rows import ReviewRow
from ..services.reviews import BAD_LEVELS, LEVELS, reviews_of
from .facts import Scope
from .figures import BadReviewDoc, RectificationFigures, ReviewSummary, ratio

__all__ = ["rate", "summary"]


def rate(part: int, whole: int) -> float | None:
    """part / whole to 4 decimals, half up (as the report rounds rates); None without a whole."""
    return ratio(part, whole, 4) if whole else None


def summary(
    session: Session,
    *,
    start: date | None = None,
    end: date | None = None,
    department: str | None = None,
    now: datetime,
) -> ReviewSummary:
    """Reviews given on local dates [start, end] (either open), of one department or all, as of `now`.

    - `satisfaction_rate`: reviews at levels 1–3 (非常满意, 满意, 基本满意) over all reviews (4 decimals,
      half up; null without reviews). `bad`: levels 4 and 5.
    - `rectifications`: the records of the bad reviews in the period: `closed` splits into `on_time`
      (every phase by its promised deadline) and `late`; `open` ones are `overdue_open` when the
      current phase's deadline has passed at `now`. `rectified_on_time_rate` = on_time / closed.
    - `bad_reviews`: each bad review with its record's state, `on_time` and the current phase's deadline.
    """
    query = select(ReviewRow)
    lo, hi = Scope(
        start=start, end=end
    ).bounds()  # the same days as the report's steps (refuses a reversed period)
    if lo is not None:
        query = query.where(ReviewRow.at >= lo)
    if hi is not None:
        query = query.where(ReviewRow.at < hi)
    if department is not None:
        query = query.where(ReviewRow.department == department)
    rows = list(session.scalars(query.order_by(ReviewRow.at, ReviewRow.id)))
    by_level = {str(level): 0 for level in LEVELS}
    for r in rows:
        by_level[str(r.level)] += 1
    satisfied = sum(1 for r in rows if r.level not in BAD_LEVELS)
    bad_rows = [r for r in rows if r.level in BAD_LEVELS]
    reviews = {r.id: r for r in reviews_of(session, bad_rows)}
    figures: RectificationFigures = {
        "opened": 0,
        "closed": 0,
        "on_time": 0,
        "late": 0,
        "open": 0,
        "overdue_open": 0,
    }
    bad_docs: list[BadReviewDoc] = []
    for row in bad_rows:
        record = reviews[row.id].rectification
        due: datetime | None = None
        if record is not None:
            figures["opened"] += 1
            if record.state == "closed":
                figures["closed"] += 1
                figures["on_time" if record.on_time else "late"] += 1
            else:
                figures["open"] += 1
                current = {
                    "verifying": record.verify,
                    "rectifying": record.rectify,
                    "feedback": record.feedback,
                }[record.state]
                due = current.due if current else None
                if due is not None and due <= now:
                    figures["overdue_open"] += 1
        bad_docs.append(
            {
                "review": row.id,
                "case": row.case_id,
                "step": row.step,
                "department": row.department,
                "level": row.level,
                "channel": row.channel,
                "real_name": row.real_name,
                "at": local_iso(row.at),
                "rectification": record.id if record else None,
                "state": record.state if record else None,
                "on_time": record.on_time if record else None,
                "due": local_iso(due),
            }
        )
    return {
        "period": {
            "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None,
            "by": "review date",
            "timezone": "Asia/Shanghai",
        },
        "department": department,
        "reviews": len(rows),
        "by_level": by_level,
        "satisfaction_rate": rate(satisfied, len(rows)),
        "bad": len(bad_rows),
        "rectifications": figures,
        "rectified_on_time_rate": rate(figures["on_time"], figures["closed"]),
        "bad_reviews": bad_docs,
    }
