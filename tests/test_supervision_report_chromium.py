"""The supervision report's HTML page in headless Chromium (issue 8): no console errors, nothing fetched.

The page is written by `hennan-flow report supervision --format html --output FILE` over the seeded
scenario of tests/report_scenario.py (SQLite). Chromium is driven over the DevTools protocol
(tests/chromium.py; the tests skip where Chromium or `websockets` is absent). Full-page screenshots,
on screen and with print media, are written to `tmp_path` and their paths printed (run with `-s`).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from chromium import Page, open_page
from hennan_flow.cli import main
from report_scenario import NOW, seed


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    yield from open_page(tmp_path_factory, domains=("Network",))


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    seeded = seed(f"sqlite:///{folder / 'hf.db'}")
    seeded.engine.close()
    target = folder / "supervision-report.html"
    with pytest.raises(SystemExit) as info:
        main(
            [
                "--db",
                seeded.url,
                "--now",
                NOW,
                "report",
                "supervision",
                "--format",
                "html",
                "--output",
                str(target),
            ]
        )
    assert info.value.code in (0, None)
    return target


CHECKS = """
(() => {
  const out = {charts: [], tables: 0, captions: 0, overflow: document.documentElement.scrollWidth > innerWidth};
  for (const svg of document.querySelectorAll("svg")) {
    const box = svg.getBoundingClientRect();
    const ids = (svg.getAttribute("aria-labelledby") || "").split(/\\s+/).filter(Boolean);
    out.charts.push({
      id: svg.id,
      role: svg.getAttribute("role"),
      width: box.width,
      height: box.height,
      visible: getComputedStyle(svg).visibility === "visible" && getComputedStyle(svg).display !== "none",
      labels: ids.map(i => { const el = document.getElementById(i); return el && svg.contains(el) ? el.textContent.trim() : null; }),
      shapes: [...svg.querySelectorAll("rect, line")].filter(s => { const b = s.getBBox(); return b.width > 0 || b.height > 0; }).length,
      inside: [...svg.querySelectorAll("text")].every(t => { const b = t.getBBox(); const v = svg.viewBox.baseVal; return b.x >= -1 && b.x + b.width <= v.width + 1; }),
      tableAfter: (() => { let el = svg.nextElementSibling; while (el && !el.querySelector("table") && el.tagName !== "TABLE") el = el.nextElementSibling; return !!el; })(),
    });
  }
  for (const table of document.querySelectorAll("table")) {
    out.tables += 1;
    if (table.caption && table.caption.textContent.trim()) out.captions += 1;
  }
  out.h1 = document.querySelectorAll("h1").length;
  out.title = document.title;
  return out;
})()
"""


def test_the_probe_sees_console_errors_and_fetches(page: Page, tmp_path: Path) -> None:
    """The checks below can fail: a console error and a fetched image are both caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><body><img alt="" src="http://127.0.0.1:9/x.png">'
        "<script>console.error('probe')</script></body></html>",
        encoding="utf-8",
    )
    page.open(bad.as_uri())
    page.drain()
    assert any("probe" in p for p in page.problems()), page.problems()
    assert "http://127.0.0.1:9/x.png" in page.requests()


def test_the_report_renders_without_console_errors_and_draws_its_charts(
    page: Page, report_file: Path, tmp_path: Path
) -> None:
    page.call("Emulation.setEmulatedMedia", {"media": "screen"})
    page.open(report_file.as_uri())
    result = page.evaluate(CHECKS)
    page.drain()
    assert page.problems() == []
    assert page.requests() == [report_file.as_uri()], "the page fetched something"
    assert result["h1"] == 1 and result["title"].startswith("红黄牌电子监察报告")
    assert result["tables"] == result["captions"] >= 9
    assert result["overflow"] is False, "the page is wider than the window"
    assert [c["id"] for c in result["charts"]] == ["chart-rates", "chart-months", "chart-timeline"]
    for chart in result["charts"]:
        assert chart["role"] == "img" and chart["visible"], chart
        assert chart["width"] > 250 and chart["height"] > 100, chart
        assert len(chart["labels"]) == 2 and all(chart["labels"]), chart  # <title> and <desc> inside
        assert chart["shapes"] >= 6, chart  # bars, gridlines, ticks were laid out
        assert chart["inside"], f"text of {chart['id']} runs outside its chart"
        assert chart["tableAfter"], f"{chart['id']} has no data table after it"
    shot = page.screenshot(tmp_path / "supervision-report.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    print(f"screenshot: {shot}")


def test_the_report_prints(page: Page, report_file: Path, tmp_path: Path) -> None:
    page.open(report_file.as_uri())
    page.call("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        state = page.evaluate(
            "({skip: getComputedStyle(document.querySelector('.skip')).display,"
            " charts: [...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().width > 0),"
            " adjust: getComputedStyle(document.querySelector('svg')).printColorAdjust})"
        )
        assert state == {"skip": "none", "charts": [True, True, True], "adjust": "exact"}
        shot = page.screenshot(tmp_path / "supervision-report-print.png")
        print(f"print screenshot: {shot}")
        # A4 landscape less 12 mm margins is 273 mm ≈ 1032 CSS px: no table or chart is cut off there
        page.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1030, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
        cut = page.evaluate(
            "[...document.querySelectorAll('.table-wrap, svg')]"
            ".filter(e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > innerWidth + 1)"
            ".map(e => e.id || e.getAttribute('aria-label'))"
        )
        assert cut == []
    finally:
        page.call("Emulation.setEmulatedMedia", {"media": "screen"})
        page.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
    pdf = page.call("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True})
    data = base64.b64decode(pdf["data"])
    assert data[:5] == b"%PDF-" and len(data) > 20_000
    (tmp_path / "supervision-report.pdf").write_bytes(data)
    page.drain()
    assert page.problems() == []
