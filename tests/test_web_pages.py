"""The workbench pages in Debian's Chromium (Playwright) against a real `hennan-flow serve` process.

A handler of 县市场监督管理局 logs in with an API key, opens the department queue, claims the first
step of a new enterprise_opening case, submits its form empty (refused: the errors are shown at their
fields) and then filled; the case page marks that step completed and the next steps ready; after a
simulated sweep past the legal deadline of a second case, that case's step is marked red on the
queue and the diagram. No page logs a console error. Screenshots of every page at 1280 px and 390 px
go to .artifacts/screenshots/ (login, queue, task-refused, case, case-red).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from browser import WIDTHS, browser, shot, watch
from helpers import OPENING, OPENING_WALK
from hennan_flow.bpmn.layout import BPMNDI_NS
from hennan_flow.engine.facade import Engine
from http_service import Keys, prepare, served

APPLICANT = {"name": "张三", "id_number": "430421199001011234"}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A simulation database with the sample directory, enterprise_opening (tests/http_service.py),
    two cases and the API keys of a handler and a supervisor, served by `hennan-flow serve`."""
    url = f"sqlite:///{tmp_path / 'web.db'}"
    prepare(url, simulation=True)
    with Engine(url, allow_plaintext=True) as engine:
        first = engine.start_case("enterprise_opening", applicant=APPLICANT, actor="window-wang")
        second = engine.start_case("enterprise_opening", applicant=APPLICANT, actor="window-wang")
        _, handler_key = engine.api_keys.create("amr-h1", actor="admin-he")
        _, supervisor_key = engine.api_keys.create("jc-zhou", actor="admin-he")
    with served(url, Keys(tmp_path)) as base:
        yield {
            "base": base,
            "url": url,
            "key": handler_key,
            "supervisor": supervisor_key,
            "first": first,
            "second": second,
        }


def _both_widths(page: Any, name: str) -> None:
    for label, (w, h) in WIDTHS.items():
        page.set_viewport_size({"width": w, "height": h})
        shot(page, f"{name}-{label}")
    page.set_viewport_size({"width": 1280, "height": 900})


def _wait_diagram(page: Any) -> None:
    page.wait_for_selector("#diagram[data-rendered]", timeout=20000)
    assert page.get_attribute("#diagram", "data-rendered") == "true"


def test_a_handler_works_a_step_in_the_browser(site: dict[str, Any]) -> None:
    base, first = site["base"], site["first"]
    step = first.ready[0]
    with browser() as chrome:
        page = chrome.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        problems = watch(page)

        page.goto(f"{base}/web/queue")  # not signed in: the login page
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "跳到正文"  # the skip link first
        assert "/web/login" in page.url
        page.fill("#key", "hfk_wrong_key")
        page.click("button[type=submit]:has-text('登录')")
        assert "密钥无效" in page.inner_text("[role=alert]")
        _both_widths(page, "login")
        page.fill("#key", site["key"])
        page.click("button[type=submit]:has-text('登录')")
        page.wait_for_url("**/web/queue")
        cookie = next(c for c in page.context.cookies() if c["name"] == "hf_key")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        page.goto(f"{base}/web/queue?department={step.department}")
        row = page.locator(f"tr[data-task='{step.id}']")
        assert "待办" in row.inner_text()
        claim = row.locator("button:has-text('认领')")
        for _ in range(80):  # keyboard only: Tab from the top of the page reaches the claim button
            page.keyboard.press("Tab")
            if claim.evaluate("b => b === document.activeElement"):
                break
        else:
            pytest.fail("the claim button is not reachable with Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "amr-h1 已认领" in page.locator(f"tr[data-task='{step.id}']").inner_text()
        _both_widths(page, "queue")

        page.goto(f"{base}/web/tasks/{step.id}")
        page.click(".hf-submit")
        page.wait_for_selector(".hf-errors")
        invalid = page.locator("[aria-invalid=true]")
        assert invalid.count() >= 3
        assert page.locator(".hf-field .hf-error").count() >= 3  # each error at its field
        assert page.evaluate("document.activeElement.classList.contains('hf-errors')")
        _both_widths(page, "task-refused")

        for name, value in OPENING_WALK["register"].items():
            control = page.locator(f"form [name='{name}']").first
            if control.count() == 0:
                continue
            if control.evaluate("e => e.tagName") == "SELECT":
                control.select_option(str(value))
            else:
                control.fill(str(value))
        page.focus(".hf-submit")
        with page.expect_navigation(url=f"**/web/cases/{first.id}"):
            page.keyboard.press("Enter")
        _wait_diagram(page)
        assert page.get_attribute(f"tr[data-element='{step.step}']", "data-state") == "completed"
        ready = page.locator("tr[data-state='ready']")
        assert ready.count() >= 1
        marked = page.evaluate(
            "id => document.querySelector(`.djs-element[data-element-id='${id}']`).classList.contains('hf-completed')",
            step.step,
        )
        assert marked
        _both_widths(page, "case")

        # a simulated sweep past the legal deadline of the second case: its step gets a red card
        later = first.started_at + timedelta(days=20)
        with Engine(site["url"], clock=later) as engine:
            engine.sweep()
        second = site["second"].ready[0]
        page.goto(f"{base}/web/queue?department={second.department}")
        assert "红牌" in page.locator(f"tr[data-task='{second.id}']").inner_text()
        page.goto(f"{base}/web/cases/{site['second'].id}")
        _wait_diagram(page)
        assert page.get_attribute(f"tr[data-element='{second.step}']", "data-card") == "red"
        red = page.evaluate(
            "id => document.querySelector(`.djs-element[data-element-id='${id}']`).classList.contains('hf-card-red')",
            second.step,
        )
        assert red
        _both_widths(page, "case-red")

        # the supervisor's dashboard: the red card by department and phase, its record, the figures
        page.click("button:has-text('退出')")
        page.wait_for_url("**/web/login")
        page.fill("#key", site["supervisor"])
        page.click("button[type=submit]:has-text('登录')")
        page.goto(f"{base}/web/supervision")
        phases = page.inner_text("[data-board=phases]")
        assert "衡南县市场监督管理局" in phases and "register" in phases
        record = page.locator(
            f"[data-board=records] tr[data-card=red]:has(a[href='/web/cases/{site['second'].id}'])"
        )
        assert record.count() >= 1 and "待核查" in record.first.inner_text()  # the report's state names
        assert "按时办结率" in page.inner_text("#rates-title")
        with page.expect_navigation(url=f"**/web/cases/{site['second'].id}"):
            record.first.locator("a").click()
        _wait_diagram(page)
        page.goto(f"{base}/web/supervision")
        _both_widths(page, "supervision")
        assert problems == [], problems


def test_the_designer_audits_a_bundle_on_its_diagram(site: dict[str, Any], tmp_path: Path) -> None:
    base = site["base"]
    with browser() as chrome:
        page = chrome.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        problems = watch(page)
        page.goto(f"{base}/web/login")
        page.fill("#key", site["key"])
        page.click("button[type=submit]:has-text('登录')")
        page.goto(f"{base}/web/audit?bundle=enterprise_opening.bpmn")
        _wait_diagram(page)
        assert page.locator(".hf-scenario").count() >= 1
        assert page.locator(".hf-scenario li").count() >= 1
        _both_widths(page, "audit")

        # an upload without BPMN DI: a generated layout, the audit's findings pinned on their steps
        root = _bare_opening()
        (tmp_path / "上传.bpmn").write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
        page.goto(f"{base}/web/audit")
        page.set_input_files("#upload", str(tmp_path / "上传.bpmn"))
        page.click("button:has-text('上传并审查')")
        page.wait_for_selector("#hf-audit-result #diagram[data-rendered]")
        assert "上传.bpmn" in page.inner_text("#audit-title")
        assert page.evaluate("document.querySelectorAll('.djs-shape').length") >= 10
        assert page.get_attribute("#diagram", "data-rendered") == "true"
        rows = page.locator("[data-board=findings] tr[data-element]")
        assert rows.count() >= 1
        element = rows.first.get_attribute("data-element")
        pinned = page.evaluate(
            "id => document.querySelector(`.djs-element[data-element-id='${id}']`)?.classList.contains('hf-finding')",
            element,
        )
        assert pinned, element
        _both_widths(page, "audit-upload")
        assert problems == [], problems


def _bare_opening() -> etree._Element:
    """enterprise_opening without its diagram (BPMN DI)."""
    root = etree.parse(str(OPENING)).getroot()
    for diagram in root.findall(f"{{{BPMNDI_NS}}}BPMNDiagram"):
        root.remove(diagram)
    return root
