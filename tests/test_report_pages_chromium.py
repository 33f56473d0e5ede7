"""The county's report pages in headless Chromium at 1280 px and on a phone (390 px) (issue 23 item 6):
the supervision report, the 红牌通报 bulletin and the audit report have no horizontal overflow, no
truncated label and no English heading — each measured from the page, not judged by eye.

Checks, per page and width: the document is no wider than the window; no element that clips its
content (overflow hidden or clip, or an ellipsis) holds more than it shows; every chart's text lies
inside its drawing; at 1280 px no table scrolls inside its region either (on a phone the widest
tables scroll within their own region, never the page); and no heading, caption, table header,
figure caption or chart legend holds an English word (codes in <code> and the chart's own data
labels aside). Chromium is driven over the DevTools protocol (tests/chromium.py; skipped where absent).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chromium import Page, open_page
from hennan_flow.audit import audit_paths
from hennan_flow.cli import main
from hennan_flow.report.html import render_html as audit_html
from hennan_flow.report.records import audit_records
from hennan_flow.resources import packaged_processes
from report_scenario import NOW, seed

WIDTHS = (1280, 390)

MEASURE = r"""
(() => {
  const out = {pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
               clipped: [], scrolling: [], outside: [], english: []};
  for (const el of document.querySelectorAll("body *")) {
    const cs = getComputedStyle(el);
    if (cs.display === "none") continue;
    const clips = ["hidden", "clip"].includes(cs.overflowX) || cs.textOverflow === "ellipsis";
    if (clips && el.scrollWidth > el.clientWidth + 1) out.clipped.push(el.tagName + " " + el.textContent.trim().slice(0, 40));
  }
  for (const wrap of document.querySelectorAll(".table-wrap")) {
    if (wrap.scrollWidth > wrap.clientWidth + 1) out.scrolling.push(wrap.getAttribute("aria-label") || "table");
  }
  for (const svg of document.querySelectorAll("svg")) {
    const v = svg.viewBox.baseVal;
    for (const t of svg.querySelectorAll("text")) {
      const b = t.getBBox();
      if (b.x < -1 || b.x + b.width > v.width + 1 || b.y < -1 || b.y + b.height > v.height + 1)
        out.outside.push(svg.id + ": " + t.textContent);
    }
  }
  const text = el => { const c = el.cloneNode(true); c.querySelectorAll("code").forEach(x => x.remove()); return c.textContent; };
  const headings = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6, caption, th, figcaption, dt, title")];
  const legends = [...document.querySelectorAll("svg > text")];
  for (const el of [...headings, ...legends]) {
    const words = (text(el).match(/[A-Za-z]{3,}/g) || []).filter(w => !ALLOWED.includes(w));
    if (words.length) out.english.push(el.tagName + ": " + text(el).trim().slice(0, 60));
  }
  return out;
})()
"""
ALLOWED = ("BPMN", "JSON", "HTML", "SVG", "validate")  # names of formats and of the validate command


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    yield from open_page(tmp_path_factory)


def _cli(*argv: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    assert info.value.code in (0, None)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pages")
    seeded = seed(f"sqlite:///{folder / 'hf.db'}")
    # a red card walked to 属实 with an accountability entry, so the bulletin has every field
    red = seeded.cards["very_late/sign/red"]
    engine = seeded.engine
    engine.advance_card(red, to="reviewing", note="整改完成", actor="监察员")
    engine.advance_card(red, to="revisiting", note="复核通过", actor="上级复核")
    engine.account_card(
        red, person="城管局承办人", measure="责令书面检查", note="超过法定期限", actor="监察员"
    )
    engine.advance_card(red, to="closed", note="回访满意", conclusion="属实", actor="监察员")
    engine.close()
    out = {
        "supervision": folder / "supervision.html",
        "bulletin": folder / "bulletin.html",
        "audit": folder / "audit.html",
    }
    _cli(
        "--db",
        seeded.url,
        "--now",
        NOW,
        "report",
        "supervision",
        "--format",
        "html",
        "--output",
        str(out["supervision"]),
    )
    _cli(
        "--db",
        seeded.url,
        "--now",
        NOW,
        "report",
        "bulletin",
        "--from",
        "2025-03-01",
        "--to",
        "2025-04-30",
        "--format",
        "html",
        "--output",
        str(out["bulletin"]),
    )
    out["audit"].write_text(
        audit_html(audit_records(audit_paths([str(packaged_processes())]))), encoding="utf-8"
    )
    return out


def measure(page: Page, path: Path, width: int) -> dict[str, Any]:
    page.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    try:
        page.open(path.as_uri())
        result: dict[str, Any] = page.evaluate(MEASURE.replace("ALLOWED", repr(list(ALLOWED))))
        page.drain()
        assert page.problems() == []
        return result
    finally:
        page.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )


def test_the_probe_catches_overflow_clipping_and_english_headings(page: Page, tmp_path: Path) -> None:
    """Each check below can fail: a bad page trips every one of them."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html lang="zh-CN"><body><h2>Summary</h2><div style="width:2000px">宽</div>'
        '<p style="width:40px;overflow:hidden;white-space:nowrap">很长很长很长的标签文字</p>'
        '<div class="table-wrap" style="overflow-x:auto;width:100px"><table><tr><td style="white-space:nowrap">'
        "很长很长很长很长很长很长</td></tr></table></div>"
        '<svg viewBox="0 0 50 20" width="50" height="20"><text x="0" y="15">超出画布的很长文字</text></svg>'
        "</body></html>",
        encoding="utf-8",
    )
    got = measure(page, bad, 1280)
    assert got["pageOverflow"] > 0 and got["clipped"] and got["scrolling"] and got["outside"]
    assert got["english"] == ["H2: Summary"]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["supervision", "bulletin", "audit"])
def test_a_report_page_fits_its_width_with_nothing_cut_and_no_english_heading(
    page: Page, pages: dict[str, Path], name: str, width: int, tmp_path: Path
) -> None:
    got = measure(page, pages[name], width)
    assert got["pageOverflow"] <= 0, f"{name} at {width}px is {got['pageOverflow']}px wider than the window"
    assert got["clipped"] == [], got["clipped"]
    assert got["outside"] == [], got["outside"]
    assert got["english"] == [], got["english"]
    if width >= 1280:
        assert got["scrolling"] == [], f"tables of {name} scroll at {width}px: {got['scrolling']}"
