"""Playwright on Debian's Chromium for the workbench tests: the PyPI package's bundled driver, the
system browser through `executable_path` (never `playwright install`, never a browser download).

`browser()` skips the test when Chromium (see tests/chromium.py) or the `playwright` package is
absent. `watch(page)` collects the page's console errors and uncaught exceptions; `shot(page, name)`
writes a screenshot to `.artifacts/screenshots/` (gitignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from chromium import FLAGS, chromium_binary

SCREENSHOTS = Path(__file__).resolve().parents[1] / ".artifacts" / "screenshots"
WIDTHS = {"wide": (1280, 900), "narrow": (390, 844)}
# Playwright sets headless mode, the debugging pipe and the window itself
_OWN = ("--headless", "--remote-debugging-port", "--remote-debugging-address", "--window-size")
LAUNCH_FLAGS = [f for f in FLAGS if not f.startswith(_OWN)]


@contextmanager
def browser() -> Iterator[Any]:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium (install Debian's chromium or set HENNAN_FLOW_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright test dependency is not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=binary, args=LAUNCH_FLAGS, headless=True)
        try:
            yield chrome
        finally:
            chrome.close()


def watch(page: Any) -> list[str]:
    """Console errors and uncaught exceptions of `page`, as they arrive."""
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
    return problems


def shot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
