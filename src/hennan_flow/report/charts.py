"""Server-side SVG charts for the supervision report: small pure functions, no script, nothing fetched.

Each chart is one `<svg role="img" aria-labelledby="ID-title ID-desc">` with a `<title>` and a
`<desc>` that says in words what the chart shows; the page puts a data table beside every chart, so
nothing is told by colour or shape alone. Colours carry a pattern or a text label as well, and the
charts scale with their `viewBox` (screen and print alike).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from markupsafe import Markup, escape
from wcwidth import wcwidth

from ..clock.instants import local_date, local_day_ended, local_midnight

__all__ = ["GanttRow", "RateRow", "gantt_chart", "month_cards_chart", "rate_chart"]

_FONT = "font-family=\"system-ui, 'Noto Sans CJK SC', 'WenQuanYi Zen Hei', sans-serif\""
INK = "#1b1b1b"
MUTED = "#5a5a5a"
GRID = "#d0d0d0"
PROMISED = "#1f5fa8"  # blue
LEGAL = "#6b3fa0"  # purple
YELLOW = "#e0b000"
RED = "#b3261e"
ON_TIME = "#2e7d32"
LATE = "#b3261e"
OPEN = "#7a7a7a"


def _n(value: float) -> str:
    """A coordinate with at most one decimal."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _open(chart_id: str, width: int, height: int, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" preserveAspectRatio="xMinYMin meet" {_FONT} font-size="13">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
    ]


def _text_width(text: str, size: int) -> int:
    """The drawn width of `text` at font `size` (px), generously: wide characters one em, others .62 em."""
    return round(sum(size if wcwidth(ch) == 2 else size * 0.62 for ch in text))


def _text(x: float, y: float, text: str, *, anchor: str = "start", fill: str = INK, size: int = 13) -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{fill}" font-size="{size}">'
        f"{escape(text)}</text>"
    )


# -- on-time rate per department (grouped horizontal bars) --------------------------------------------


@dataclass(frozen=True)
class RateRow:
    """One group of the rate chart: its label and (series name, rate 0..1 or None, text) per series."""

    label: str
    series: tuple[tuple[str, float | None, str], ...]


def rate_chart(chart_id: str, *, title: str, desc: str, rows: Sequence[RateRow]) -> Markup:
    """Horizontal bars, one group per row and one bar per series (0–100 %), each labelled with its text."""
    names = [name for name, _, _ in rows[0].series] if rows else []
    colors = [PROMISED, LEGAL]
    label_w = max(160, max((_text_width(r.label, 13) for r in rows), default=0) + 20)
    plot_w = 380
    text_w = max(150, max((_text_width(n, 12) for r in rows for _k, _v, n in r.series), default=0) + 16)
    bar_h, gap, top = 16, 14, 44
    group_h = len(names) * (bar_h + 4) + gap
    width = label_w + plot_w + text_w
    height = top + max(1, len(rows)) * group_h + 24
    out = _open(chart_id, width, height, title, desc)
    out.append(
        f'<defs><pattern id="{escape(chart_id)}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{LEGAL}"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="2"/></pattern></defs>'
    )
    fills = [PROMISED, f"url(#{escape(chart_id)}-hatch)"]
    # legend
    x = label_w
    for i, name in enumerate(names):
        out.append(
            f'<rect x="{x}" y="8" width="14" height="14" fill="{fills[i % 2]}" stroke="{colors[i % 2]}"/>'
        )
        out.append(_text(x + 20, 20, name))
        x += 40 + 8 * len(name) + 60
    # grid
    for pct in (0, 25, 50, 75, 100):
        gx = label_w + plot_w * pct / 100
        out.append(
            f'<line x1="{_n(gx)}" y1="{top - 6}" x2="{_n(gx)}" y2="{height - 20}" stroke="{GRID}" '
            'stroke-width="1"/>'
        )
        out.append(_text(gx, height - 6, f"{pct}%", anchor="middle", fill=MUTED, size=11))
    y = top
    for row in rows:
        out.append(_text(label_w - 10, y + bar_h, row.label, anchor="end"))
        for i, (_name, value, note) in enumerate(row.series):
            by = y + i * (bar_h + 4)
            if value is not None:
                w = max(0.0, min(1.0, value)) * plot_w
                out.append(
                    f'<rect x="{label_w}" y="{by}" width="{_n(w)}" height="{bar_h}" fill="{fills[i % 2]}" '
                    f'stroke="{colors[i % 2]}" stroke-width="1"/>'
                )
            out.append(_text(label_w + plot_w + 8, by + bar_h - 3, note, size=12))
        y += group_h
    out.append("</svg>")
    return Markup("\n".join(out))


# -- cards per month by colour (stacked vertical bars) -------------------------------------------------


def _nice_max(value: int) -> int:
    if value <= 5:
        return max(1, value)
    step = 1
    while step * 10 < value:
        step *= 10
    return next(mult * step for mult in (1, 2, 5, 10) if value <= mult * step)


def month_cards_chart(
    chart_id: str, *, title: str, desc: str, months: Sequence[tuple[str, int, int]]
) -> Markup:
    """Stacked bars per month: yellow cards at the bottom, red on top, each segment labelled with its count."""
    left, top, bottom, plot_h = 44, 40, 36, 220
    bar_w = 44
    slot = bar_w + 26
    width = max(320, left + 20 + slot * max(1, len(months)))
    height = top + plot_h + bottom
    peak = _nice_max(max((y + r for _, y, r in months), default=1))
    out = _open(chart_id, width, height, title, desc)
    out.append(
        f'<defs><pattern id="{escape(chart_id)}-red" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{RED}"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="1.5"/></pattern></defs>'
    )
    # legend
    out.append(f'<rect x="{left}" y="8" width="14" height="14" fill="{YELLOW}" stroke="{INK}"/>')
    out.append(_text(left + 20, 20, "黄牌"))
    out.append(
        f'<rect x="{left + 150}" y="8" width="14" height="14" fill="url(#{escape(chart_id)}-red)" '
        f'stroke="{INK}"/>'
    )
    out.append(_text(left + 170, 20, "红牌"))
    base = top + plot_h
    ticks = range(0, peak + 1, max(1, peak // 5))
    for t in ticks:
        ty = base - plot_h * t / peak
        out.append(
            f'<line x1="{left}" y1="{_n(ty)}" x2="{width - 10}" y2="{_n(ty)}" stroke="{GRID}" stroke-width="1"/>'
        )
        out.append(_text(left - 6, ty + 4, str(t), anchor="end", fill=MUTED, size=11))
    x = left + 16
    for label, yellow, red in months:
        y_h = plot_h * yellow / peak
        r_h = plot_h * red / peak
        if yellow:
            out.append(
                f'<rect x="{x}" y="{_n(base - y_h)}" width="{bar_w}" height="{_n(y_h)}" fill="{YELLOW}" '
                f'stroke="{INK}" stroke-width="1"/>'
            )
            out.append(_text(x + bar_w / 2, base - y_h / 2 + 4, str(yellow), anchor="middle"))
        if red:
            out.append(
                f'<rect x="{x}" y="{_n(base - y_h - r_h)}" width="{bar_w}" height="{_n(r_h)}" '
                f'fill="url(#{escape(chart_id)}-red)" stroke="{INK}" stroke-width="1"/>'
            )
            mid = base - y_h - r_h / 2  # the count on a white chip, readable over the hatching
            out.append(
                f'<rect x="{_n(x + bar_w / 2 - 11)}" y="{_n(mid - 9)}" width="22" height="18" rx="3" '
                f'fill="#ffffff" stroke="{RED}" stroke-width="1"/>'
            )
            out.append(_text(x + bar_w / 2, mid + 4.5, str(red), anchor="middle"))
        out.append(_text(x + bar_w / 2, base + 18, label, anchor="middle", size=12))
        x += slot
    out.append(
        f'<line x1="{left}" y1="{base}" x2="{width - 10}" y2="{base}" stroke="{INK}" stroke-width="1"/>'
    )
    out.append("</svg>")
    return Markup("\n".join(out))


# -- one case's steps against their deadlines (Gantt) ----------------------------------------------------


@dataclass(frozen=True)
class GanttRow:
    """One step instance: from acceptance to its end (None: still open, drawn up to `now`)."""

    label: str
    start: datetime
    end: datetime | None
    promised_due: datetime | None = None
    legal_due: datetime | None = None
    late: bool = False  # ended (or stands) past its promised deadline
    note: str = ""
    pauses: tuple[tuple[datetime, datetime | None], ...] = field(default=())


def gantt_chart(chart_id: str, *, title: str, desc: str, rows: Sequence[GanttRow], now: datetime) -> Markup:
    """Bars from acceptance to end per step; promised (dashed) and legal (solid) deadlines as ticks.

    Days run along the x axis (Asia/Shanghai), one gridline per day; pauses are drawn as hatched
    stretches of the bar; an open step's bar runs to `now` with an open (dashed) end.
    """
    running = any(r.end is None or any(p1 is None for _, p1 in r.pauses) for r in rows)
    instants = [now] if running or not rows else []
    for r in rows:
        instants += [r.start, r.end or now]
        instants += [d for d in (r.promised_due, r.legal_due) if d is not None]
    first = local_date(min(instants))
    last = local_day_ended(max(instants))
    days = (last - first).days + 1
    t0, t1 = local_midnight(first), local_midnight(last + timedelta(days=1))
    # the label and note columns as wide as their longest text (a CJK character is about one em)
    label_w = max(120, max((_text_width(r.label, 13) for r in rows), default=0) + 20)
    plot_w = max(420, min(720, 34 * days))
    note_w = max(200, max((_text_width(r.note, 12) for r in rows), default=0) + 24)
    row_h, top = 34, 46
    width = label_w + plot_w + note_w
    height = top + max(1, len(rows)) * row_h + 40
    span = (t1 - t0).total_seconds()

    def x_of(instant: datetime) -> float:
        return label_w + plot_w * (instant - t0).total_seconds() / span

    out = _open(chart_id, width, height, title, desc)
    out.append(
        f'<defs><pattern id="{escape(chart_id)}-pause" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{MUTED}" stroke-width="2"/></pattern></defs>'
    )
    # legend
    lx = label_w
    out.append(f'<rect x="{lx}" y="8" width="22" height="12" fill="{ON_TIME}"/>')
    out.append(_text(lx + 28, 19, "按时"))
    lx += 90
    out.append(f'<rect x="{lx}" y="8" width="22" height="12" fill="{LATE}"/>')
    out.append(_text(lx + 28, 19, "超过承诺时限"))
    lx += 125
    out.append(
        f'<rect x="{lx}" y="8" width="22" height="12" fill="url(#{escape(chart_id)}-pause)" stroke="{MUTED}"/>'
    )
    out.append(_text(lx + 28, 19, "暂停计时"))
    lx += 92
    out.append(
        f'<line x1="{lx}" y1="6" x2="{lx}" y2="22" stroke="{PROMISED}" stroke-width="3" stroke-dasharray="4 2"/>'
    )
    out.append(_text(lx + 8, 19, "承诺时限"))
    lx += 140
    out.append(f'<line x1="{lx}" y1="6" x2="{lx}" y2="22" stroke="{LEGAL}" stroke-width="3"/>')
    out.append(_text(lx + 8, 19, "法定时限"))
    # day grid
    step = 1 if days <= 16 else 2 if days <= 32 else 7
    bottom = top + max(1, len(rows)) * row_h
    for i in range(days + 1):
        gx = label_w + plot_w * i / days
        out.append(
            f'<line x1="{_n(gx)}" y1="{top - 6}" x2="{_n(gx)}" y2="{bottom}" stroke="{GRID}" stroke-width="1"/>'
        )
        if i < days and i % step == 0:
            day = first + timedelta(days=i)
            out.append(
                _text(
                    gx + plot_w / days / 2,
                    bottom + 16,
                    f"{day.month}-{day.day:02d}",
                    anchor="middle",
                    size=11,
                )
            )
    if running:  # where the open bars stop
        nx = x_of(now)
        out.append(
            f'<line x1="{_n(nx)}" y1="{top - 8}" x2="{_n(nx)}" y2="{bottom}" stroke="{INK}" stroke-width="1" '
            'stroke-dasharray="2 2"/>'
        )
        out.append(_text(nx, bottom + 32, "现在", anchor="middle", fill=MUTED, size=11))
    y = top
    for r in rows:
        mid = y + row_h / 2
        out.append(_text(label_w - 8, mid + 4, r.label, anchor="end"))
        x0, x1 = x_of(r.start), x_of(r.end or now)
        color = LATE if r.late else ON_TIME
        dash = "" if r.end is not None else ' stroke-dasharray="4 3"'
        out.append(
            f'<rect x="{_n(x0)}" y="{_n(mid - 8)}" width="{_n(max(2.0, x1 - x0))}" height="16" fill="{color}" '
            f'stroke="{INK}" stroke-width="1"{dash}/>'
        )
        for p0, p1 in r.pauses:
            px0, px1 = x_of(p0), x_of(p1 or now)
            out.append(
                f'<rect x="{_n(px0)}" y="{_n(mid - 8)}" width="{_n(max(2.0, px1 - px0))}" height="16" '
                f'fill="url(#{escape(chart_id)}-pause)" stroke="{MUTED}" stroke-width="1"/>'
            )
        if r.promised_due is not None:
            px = x_of(r.promised_due)
            out.append(
                f'<line x1="{_n(px)}" y1="{_n(mid - 14)}" x2="{_n(px)}" y2="{_n(mid + 14)}" stroke="{PROMISED}" '
                'stroke-width="3" stroke-dasharray="4 2"/>'
            )
        if r.legal_due is not None:
            lx2 = x_of(r.legal_due)
            out.append(
                f'<line x1="{_n(lx2)}" y1="{_n(mid - 14)}" x2="{_n(lx2)}" y2="{_n(mid + 14)}" stroke="{LEGAL}" '
                'stroke-width="3"/>'
            )
        out.append(_text(label_w + plot_w + 14, mid + 4, r.note, size=12))
        y += row_h
    out.append("</svg>")
    return Markup("\n".join(out))
