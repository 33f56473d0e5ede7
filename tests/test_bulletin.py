"""`report bulletin` (issue 23 item 5): the 红牌通报 of the demo's period in text, JSON and HTML, valid
against its shipped schema, naming only the staff an accountability entry names and no applicant data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from helpers import cli
from hennan_flow.demo import run_demo
from hennan_flow.engine import Engine, SimulatedClock

PERSONAL_KEYS = ("name", "id_number", "phone", "credit_code", "address", "account_number", "company_name")


def _values(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _values(v)
    elif isinstance(value, list):
        for v in value:
            yield from _values(v)


def applicant_data() -> set[str]:
    """Every applicant value of the demo's script: the applicant JSON and the form fields about people
    and the enterprise (names, ID numbers, phones, credit code, address, account number)."""
    script = json.loads((resources.files("hennan_flow") / "data" / "demo.json").read_text(encoding="utf-8"))
    out: set[str] = set()
    for case in script["cases"]:
        out |= {v for v in _values(case.get("applicant") or {}) if len(v) >= 4}
        for fields in (case.get("steps") or {}).values():
            for key, value in fields.items():
                if isinstance(value, str) and any(k in key for k in PERSONAL_KEYS) and len(value) >= 2:
                    out.add(value)
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """The demo's database with its red card walked to closed 属实 with an accountability entry."""
    url = f"sqlite:///{tmp_path_factory.mktemp('bulletin') / 'demo.db'}"
    run_demo(url, say=lambda _line: None)
    with Engine(url) as probe:
        now = max(e.at for e in probe.events(limit=10_000))
        red = next(c for c in probe.cards(color="red") if c.state == "verifying")
        d = probe.directory()
    department = red.department or ""
    superior = d.departments[department].superior
    reviewer = next(u.id for u in d.users.values() if superior in u.departments and "reviewer" in u.roles)
    head = next(u.id for u in d.users.values() if department in u.departments and "head" in u.roles)
    clock = SimulatedClock(now)
    with Engine(url, clock=clock) as engine:
        for to, actor in (("rectifying", "jc-zhou"), ("reviewing", head), ("revisiting", reviewer)):
            clock.advance(hours=1)
            engine.advance_card(red.id, to=to, note="督办", actor=actor)
        engine.account_card(
            red.id, person="张承办（窗口）", measure="通报批评", note="超期未办", actor="jc-zhou"
        )
        engine.advance_card(red.id, to="closed", note="回访满意", conclusion="属实", actor="jc-zhou")
    yield url, red.id, department


def bulletin(capsys: pytest.CaptureFixture[str], url: str, fmt: str, *extra: str) -> str:
    code, out, err = cli(
        capsys,
        "--db",
        url,
        "report",
        "bulletin",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
        "--format",
        fmt,
        *extra,
    )
    assert code == 0, err
    return out


def test_the_bulletin_holds_the_red_cards_and_no_applicant_data_in_any_format(
    demo: tuple[str, str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url, _red, department = demo
    secrets = applicant_data()
    assert {"李湘南", "430422199001011234", "13807340001", "91430422MA4T8X2K3N"} <= secrets
    doc = json.loads(bulletin(capsys, url, "json"))
    schema = json.loads(
        (resources.files("hennan_flow") / "schemas" / "bulletin.schema.json").read_text("utf-8")
    )
    errors = [
        e.message for e in Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(doc)
    ]
    assert errors == []
    assert doc["count"] >= 1 and doc["count"] == len(doc["entries"])
    closed = [e for e in doc["entries"] if e["conclusion"] == "属实"]
    assert len(closed) == 1
    (entry,) = closed
    assert entry["department"] == department and entry["department_name"]
    assert entry["bundle_name"] and entry["state"] == "closed"
    assert entry["measures"] == [{"measure": "通报批评", "person": "张承办（窗口）"}]
    text = bulletin(capsys, url, "text")
    html = bulletin(capsys, url, "html")
    path = tmp_path / "b.html"
    bulletin(capsys, url, "html", "--output", str(path))
    assert path.read_text(encoding="utf-8") == html
    for name, rendered in (("json", json.dumps(doc, ensure_ascii=False)), ("text", text), ("html", html)):
        leaked = sorted(s for s in secrets if s in rendered)
        assert leaked == [], f"{name} bulletin holds applicant data: {leaked}"
        assert "张承办（窗口）" in rendered and "通报批评" in rendered  # the one person it names
        # no staff but the entry's: no user names or ids of the directory
        assert "jc-zhou" not in rendered and "周正" not in rendered
    assert "红牌通报" in text and "红牌明细" in html and "<script" not in html


def test_an_empty_period_and_a_bad_date(
    demo: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = demo[0]
    code, out, _ = cli(
        capsys, "--db", url, "report", "bulletin", "--from", "2020-01-01", "--to", "2020-01-31"
    )
    assert code == 0 and "本期没有红牌" in out
    code, _out, err = cli(
        capsys, "--db", url, "report", "bulletin", "--from", "2026-02-30", "--to", "2026-03-01"
    )
    assert code == 2 and err.count("\n") == 1
    code, _out, err = cli(
        capsys, "--db", url, "report", "bulletin", "--from", "2026-03-02", "--to", "2026-03-01"
    )
    assert code == 2 and "统计期颠倒" in err
