"""The HTML form of one step of each bundle in headless Chromium (issue 9): no console errors.

Chromium is Debian's `chromium` (CI installs it in .ci/run); where it is absent, or the `websockets`
test dependency is, the tests skip with the reason. The browser is driven over the DevTools protocol
(tests/chromium.py: `--remote-debugging-port=0`, the port read from `<user-data-dir>/DevToolsActivePort`): every
console message, log entry and uncaught exception of the page is collected, the form's own constraint
validation runs on the prefilled walk data (every HTML `pattern` must compile in the `v` mode browsers
use and accept what the server accepts), and a full-page screenshot of each form is written to
`tmp_path` (its path is printed; run with `-s` to see it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chromium import Page, open_page
from helpers import FORMS, PROCESSES, WALKS
from hennan_flow.audit import audit_paths
from hennan_flow.bpmn.dialect import load_document
from hennan_flow.stepforms.render import render_form

# One step per bundle, together covering every kind of control and every kind of checklist note.
STEPS = {
    "enterprise_opening": "register",
    "enterprise_deregistration": "dereg_accept",
    "newborn": "medical_insurance_enrol",
    "after_death": "death_certificate",
    "construction_project": "construction_permit",
    "restaurant_opening": "food_business_license",
}


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    yield from open_page(tmp_path_factory)


def _page_html(fragment: str, title: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n</head>\n<body>\n{fragment}\n</body>\n</html>\n"
    )


def _form_page(key: str, tmp_path: Path) -> Path:
    doc = load_document(PROCESSES / f"{key}.bpmn", display=f"processes/{key}.bpmn")
    bundle = next(b for b in doc.bundles if b.key == key)
    step = bundle.step(STEPS[key])
    assert step is not None and step.form is not None
    schema = json.loads((FORMS / f"{step.form}.schema.json").read_text(encoding="utf-8"))
    verdicts = next(
        b for b in audit_paths([str(PROCESSES / f"{key}.bpmn")]).bundles if b.key == key
    ).materials
    fragment = render_form(
        schema=schema,
        step=step,
        bundle=bundle,
        verdicts=verdicts,
        data=WALKS[key]["step_data"][step.id],
        task_id=f"{key}-{step.id}",
    )
    path = tmp_path / f"{key}-{step.id}.html"
    path.write_text(_page_html(fragment, f"{bundle.name} · {step.name}"), encoding="utf-8")
    return path


CHECKS = """
(() => {
  const form = document.querySelector("form.hf-form__form");
  const aside = document.querySelector("aside.hf-checklist");
  const out = {badPatterns: [], invalid: [], unlabelled: [], controls: 0};
  for (const el of document.querySelectorAll("[pattern]")) {
    try { new RegExp(el.getAttribute("pattern"), "v"); }
    catch (e) { out.badPatterns.push(el.name + ": " + e.message); }
  }
  for (const el of form.elements) {
    if (el.tagName === "BUTTON" || el.tagName === "FIELDSET") continue;
    out.controls += 1;
    if (!el.labels || el.labels.length === 0) out.unlabelled.push(el.name);
    if (el.willValidate && !el.checkValidity()) out.invalid.push(el.name + ": " + el.validationMessage);
  }
  const required = form.querySelector("input[required], select[required], textarea[required]");
  const before = required.value;
  required.value = "";
  out.emptyRequiredRefused = !required.checkValidity();
  required.value = before;
  const f = form.getBoundingClientRect(), a = aside.getBoundingClientRect();
  out.checklistBeside = a.left >= f.right && a.top < f.bottom;
  out.checklistVisible = a.width > 0 && a.height > 0 && getComputedStyle(aside).visibility === "visible";
  out.kept = [...aside.querySelectorAll(".hf-keep li")].map(li => li.dataset.hfMaterial);
  out.requiredMarksShown = [...document.querySelectorAll(".hf-required")]
    .every(m => getComputedStyle(m).color === "rgb(164, 0, 15)");
  return out;
})()
"""


def test_the_probe_sees_console_errors(page: Page, tmp_path: Path) -> None:
    """The check below can fail: a page with a console error and an invalid `v`-mode pattern is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        _page_html(
            '<form><input name="n" pattern="[()-]" value="x"></form>'
            '<img alt="" src="data:,"><p id="p">x</p>'
            "<script>console.error('probe'); document.querySelector('input').checkValidity();</script>",
            "probe",
        ),
        encoding="utf-8",
    )
    page.open(bad.as_uri())
    page.drain()
    problems = page.problems()
    assert any("probe" in p for p in problems), problems
    assert any("pattern" in p.lower() for p in problems), problems


@pytest.mark.parametrize("key", sorted(STEPS))
def test_the_form_renders_without_console_errors(page: Page, key: str, tmp_path: Path) -> None:
    html_file = _form_page(key, tmp_path)
    page.open(html_file.as_uri())
    result = page.evaluate(CHECKS)
    page.drain()
    assert page.problems() == []
    assert result["badPatterns"] == []
    assert result["invalid"] == [], "the browser refuses data that the server accepts"
    assert result["unlabelled"] == []
    assert result["controls"] > 0 and result["emptyRequiredRefused"] is True
    assert result["checklistVisible"] and result["checklistBeside"], "the checklist is not beside the form"
    assert result["requiredMarksShown"]
    audit = next(b for b in audit_paths([str(PROCESSES / f"{key}.bpmn")]).bundles if b.key == key)
    assert result["kept"] == [
        e.material for e in audit.checklist if e.step == STEPS[key] and e.kind == "material"
    ]
    shot = page.screenshot(tmp_path / f"{key}-{STEPS[key]}.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
