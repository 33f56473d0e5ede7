"""The shipped bpmn-js viewer (web/static) draws every bundle and every validating corpus file.

In Debian's Chromium through Playwright (tests/browser.py): the page loads only the packaged files
(no network), and `HennanFlow.show` (static/workbench/diagram.js, what the case page runs) imports
each file as the case page serves it — its own diagram, or the generated layout when it has none —
without a JavaScript error, the generated layouts adding no import warning to the file's own
(bpmn-moddle warns about some files' content, e.g. unresolved references, whatever their diagram).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from browser import browser, watch
from hennan_flow.bpmn.dialect import BPMN_NS
from hennan_flow.bpmn.layout import BPMNDI_NS, with_layout
from hennan_flow.bpmn.validate import BPMN_SUFFIXES, validate_paths
from hennan_flow.bpmn.xmlsafe import parse_file
from hennan_flow.web import STATIC
from hennan_flow.web.pages import diagram_xml  # the case page's XML (the http extra)
from test_layout import dangling_boundary

PROCESSES = Path(__file__).resolve().parents[1] / "processes"
SHARED = Path(os.environ.get("HENNAN_FLOW_SHARED", Path(__file__).resolve().parents[2] / "shared"))
CORPORA = Path(os.environ.get("HENNAN_FLOW_CORPORA") or SHARED / "corpora")

_SHOW = """async ({xml, marks}) => {
  const box = document.createElement('div'); box.style.width = '1200px'; box.style.height = '700px';
  document.body.appendChild(box);
  try {
    const r = await window.HennanFlow.show(box, xml, marks);
    r.viewer.destroy();
    return {warnings: r.warnings, drawn: r.drawn, marked: r.marked};
  } catch (e) { return {error: String(e && e.message || e)}; } finally { box.remove(); }
}"""


def _viewer_page(chrome: Any) -> tuple[Any, list[str]]:
    page = chrome.new_page()
    problems = watch(page)
    page.route("**/*", lambda route: route.abort())  # nothing may come from the network
    page.set_content(
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'></head><body></body></html>"
    )
    for css in ("bpmn-js/diagram-js.css", "bpmn-js/bpmn-js.css", "workbench/workbench.css"):
        page.add_style_tag(path=str(STATIC / css))
    page.add_script_tag(path=str(STATIC / "bpmn-js" / "bpmn-viewer.production.min.js"))
    page.add_script_tag(path=str(STATIC / "workbench" / "diagram.js"))
    return page, problems


def _xml(root: etree._Element) -> str:
    return etree.tostring(root, encoding="unicode")


def _drawable(root: etree._Element) -> bool:
    return any(root.find(f"{{{BPMN_NS}}}{kind}") is not None for kind in ("process", "collaboration"))


def _bare(path: str) -> etree._Element:
    root = parse_file(path).getroot()
    for diagram in root.findall(f"{{{BPMNDI_NS}}}BPMNDiagram"):
        root.remove(diagram)
    return root


def test_viewer_draws_and_marks_every_bundle() -> None:
    with browser() as chrome:
        page, problems = _viewer_page(chrome)
        for path in sorted(PROCESSES.glob("*.bpmn")):
            root = parse_file(str(path)).getroot()
            first = next(root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}userTask")).get("id")
            marks = {
                first: {"state": "ready", "card": "red", "department": "县民政局", "deadline": "2026-12-09"}
            }
            for label, xml in (("own", _xml(root)), ("generated", _xml(with_layout(_bare(str(path)))))):
                result = page.evaluate(_SHOW, {"xml": xml, "marks": marks})
                assert "error" not in result, (path.name, label, result)
                assert result["warnings"] == 0, (path.name, label, result)
                assert result["marked"] == [first], (path.name, label)
                assert result["drawn"] > 10, (path.name, label, result)
        assert problems == []


@pytest.mark.slow
@pytest.mark.skipif(not CORPORA.is_dir(), reason=f"no corpora at {CORPORA} (set HENNAN_FLOW_CORPORA)")
def test_viewer_draws_every_validating_corpus_file() -> None:
    files = sorted(
        str(p) for p in CORPORA.rglob("*") if p.is_file() and p.name.lower().endswith(BPMN_SUFFIXES)
    )
    texts = {r.file: r.text for r in validate_paths(files).files if r.ok and r.text is not None}
    valid = list(texts)
    # a boundary event attached to no activity passes validate today, and bpmn-js refuses it (not drawable)
    # and a file without any process or collaboration has nothing to draw (no case runs one)
    good = [
        f
        for f in valid
        if not dangling_boundary(parse_file(f).getroot()) and _drawable(parse_file(f).getroot())
    ]
    failed: list[tuple[str, object]] = []
    with browser() as chrome:
        page, problems = _viewer_page(chrome)
        for n, file in enumerate(good):
            if n and n % 200 == 0:  # a fresh page now and then keeps the tab small
                page.close()
                page, more = _viewer_page(chrome)
                problems += more
            served = page.evaluate(_SHOW, {"xml": diagram_xml(texts[file]).decode("utf-8"), "marks": {}})
            generated = page.evaluate(_SHOW, {"xml": _xml(with_layout(_bare(file))), "marks": {}})
            if "error" in served or "error" in generated or generated["warnings"] > served["warnings"]:
                failed.append((file, served, generated))
        assert problems == []
    assert failed == [], f"{len(failed)} of {len(good)} files: {failed[:5]}"
    print(
        f"drew {len(good)} validating corpus files (as served and generated); {len(valid) - len(good)} left out"
    )
