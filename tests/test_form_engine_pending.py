"""Form behaviour at the engine (issue 28 item 1, issue 18 forms): refused form data is answered
before the write lock, a completed step's form is drawn read-only with the values it took, and a
refused submission's errors are drawn at their fields.

(These were strict xfails while the engine was rebuilt; the form side is `LoadedDefinition.check_data`
and `stepforms.render.render_form(..., readonly=True, errors=...)`.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import html

from helpers import ACCEPT, REVIEW_LIB, held_write_lock
from hennan_flow import FormDataError
from hennan_flow.cli import main
from hennan_flow.db import session as db_session
from hennan_flow.engine import Engine


def test_refused_form_data_is_answered_without_waiting_for_the_write_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_session, "BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "hf.db"
    engine = Engine(f"sqlite:///{path}")
    engine.upgrade()
    engine.deploy(str(REVIEW_LIB / "processes"), forms=str(REVIEW_LIB / "forms"))
    case = engine.start_case("review")
    [task] = [t for t in engine.tasks(case=case.id) if t.step == "accept"]
    # another worker holds the write lock; the form's answer needs none: the fields, not a conflict
    with held_write_lock(path), pytest.raises(FormDataError):
        engine.complete_task(task.id, data={"capital": "many"})
    assert engine.complete_task(task.id, data=ACCEPT).state == "completed"
    engine.close()


def test_the_engine_renders_a_completed_step_read_only(tmp_path: Path) -> None:
    engine = Engine(f"sqlite:///{tmp_path / 'hf.db'}")
    engine.upgrade()
    engine.deploy(str(REVIEW_LIB / "processes"), forms=str(REVIEW_LIB / "forms"))
    case = engine.start_case("review")
    [task] = [t for t in engine.tasks(case=case.id) if t.step == "accept"]
    before = html.fragment_fromstring(engine.render_form(task.id), create_parent="div")
    assert before.xpath("//form//button[@type='submit']")  # open: the applicant can submit
    engine.complete_task(task.id, data=ACCEPT)
    after = html.fragment_fromstring(engine.render_form(task.id), create_parent="div")
    engine.close()
    assert after.xpath("//form") == [] and after.xpath("//button") == []
    assert "本环节已办结" in after.text_content()


def _fragment(text: str) -> html.HtmlElement:
    return html.fragment_fromstring(text, create_parent="div")


def test_a_completed_step_shows_the_values_it_took_not_later_ones(tmp_path: Path) -> None:
    engine = Engine(f"sqlite:///{tmp_path / 'hf.db'}")
    engine.upgrade()
    engine.deploy(str(REVIEW_LIB / "processes"), forms=str(REVIEW_LIB / "forms"))
    case = engine.start_case("review")
    [accept] = [t for t in engine.tasks(case=case.id) if t.step == "accept"]
    done = engine.complete_task(accept.id, data=ACCEPT)
    for task in done.ready:  # the parallel steps (no form): one of them renames the enterprise
        engine.complete_task(task.id, data={"enterprise_name": "后来改过的名称"})
    assert engine.case_data(case.id)["enterprise_name"] == "后来改过的名称"
    page = _fragment(engine.render_form(accept.id))
    engine.close()
    [name] = page.xpath("//input[contains(@id, 'enterprise_name')]")
    assert name.get("value") == ACCEPT["enterprise_name"] and name.get("readonly") is not None
    [capital] = page.xpath("//input[contains(@id, 'capital')]")
    assert capital.get("value") == str(ACCEPT["capital"])


def test_the_engine_draws_a_refused_submission_at_its_fields(tmp_path: Path) -> None:
    engine = Engine(f"sqlite:///{tmp_path / 'hf.db'}")
    engine.upgrade()
    engine.deploy(str(REVIEW_LIB / "processes"), forms=str(REVIEW_LIB / "forms"))
    case = engine.start_case("review")
    [task] = [t for t in engine.tasks(case=case.id) if t.step == "accept"]
    submitted = {"enterprise_name": "衡南县某公司", "capital": 0}
    with pytest.raises(FormDataError) as refused:
        engine.complete_task(task.id, data=submitted)
    page = _fragment(engine.render_form(task.id, errors=refused.value.fields, data=submitted))
    plain = _fragment(engine.render_form(task.id))
    engine.close()
    [capital] = page.xpath("//input[contains(@id, 'capital')]")
    assert capital.get("aria-invalid") == "true" and capital.get("value") == "0"
    described = capital.get("aria-describedby") or ""
    assert any(page.xpath(f"//*[@id='{i}']") for i in described.split())
    [name] = page.xpath("//input[contains(@id, 'enterprise_name')]")
    assert name.get("aria-invalid") is None and name.get("value") == "衡南县某公司"
    assert page.xpath("//form//button[@type='submit']")  # still open: the applicant corrects it
    assert plain.xpath("//*[@aria-invalid='true']") == []


def test_task_form_draws_a_completed_step_read_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'hf.db'}"
    with Engine(url) as engine:
        engine.upgrade()
        engine.deploy(str(REVIEW_LIB / "processes"), forms=str(REVIEW_LIB / "forms"))
        case = engine.start_case("review")
        [task] = [t for t in engine.tasks(case=case.id) if t.step == "accept"]
        engine.complete_task(task.id, data=ACCEPT)
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["--db", url, "task", "form", task.id])
    out, err = capsys.readouterr()
    assert info.value.code in (0, None), err
    page = _fragment(out)
    assert page.xpath("//form") == [] and page.xpath("//button") == []
    assert "本环节已办结" in page.text_content() and ACCEPT["enterprise_name"] in out
