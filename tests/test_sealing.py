"""Personal data sealed at rest (issue 28 item 9): AES-GCM per value with its key id, `keys rotate`,
the refusal to store it in plain text on a production database, and what errors may say."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from helpers import PROCESSES, START, WALKS, migrated
from helpers import cli as run
from hennan_flow import ConfigError, Engine, FormDataError, InputError
from hennan_flow.engine import keys as key_rotation
from hennan_flow.sealing import PREFIX, Keyring, key_id_of
from hennan_flow.stepforms.schema import sensitive_fields

REPO = Path(__file__).resolve().parents[1]
FORMS = REPO / "forms"
NEWBORN = WALKS["newborn"]["step_data"]
APPLICANT = {
    "name": "张湘云",
    "id_number": "430422199203154321",
    "phone": "13907340002",
    "address": "湖南省衡阳市衡南县云集街道花园路6号",
}
REVIEW_TEXT = "窗口人员很耐心，回访电话 13607349999"
EXTENSION_REASON = "需核实户主 李湘南 的户籍信息"


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _personal_values() -> list[str]:
    """Every string the newborn walk, the applicant, the review and the extension put in, except the
    constants its definition itself holds (enum choices such as 男 / 随父, the vaccination unit)."""
    shipped = (PROCESSES / "newborn.bpmn").read_text(encoding="utf-8") + "".join(
        p.read_text(encoding="utf-8") for p in (FORMS / "newborn").glob("*.json")
    )
    values = [v for step in NEWBORN.values() for v in step.values() if isinstance(v, str)]
    values += [
        v for step in NEWBORN.values() for item in step.values() if isinstance(item, list) for v in item
    ]
    values += [*APPLICANT.values(), REVIEW_TEXT, EXTENSION_REASON]
    found = sorted({v for v in values if v not in shipped and json.dumps(v)[1:-1] not in shipped})
    sensitive = {
        v for step in NEWBORN.values() for k, v in step.items() if k.endswith(("_id_number", "_phone"))
    }
    assert sensitive <= set(found) and len(found) >= 13, found
    return found


def _walk(engine: Engine) -> str:
    """The newborn case from start to end, with an extension and a review: its case id."""
    engine.deploy(str(PROCESSES / "newborn.bpmn"), forms=str(FORMS))
    case = engine.start_case("newborn", applicant=APPLICANT, actor="window-01")
    first = True
    while tasks := engine.tasks(case=case.id):
        for task in tasks:
            if first:
                engine.extend(task.id, days=2, approver="张科长", reason=EXTENSION_REASON, actor="clerk")
                first = False
            engine.complete_task(task.id, data=NEWBORN[task.step], actor="clerk")
    assert engine.case(case.id).state == "completed"
    engine.add_review(case.id, level=1, channel="window", text=REVIEW_TEXT, actor="window-01")
    return case.id


def _readable(engine: Engine, case_id: str) -> None:
    """The API gives back every value as it was given."""
    data = engine.case_data(case_id)
    for step in NEWBORN.values():
        for name, value in step.items():
            assert data[name] == value, name
    [review] = engine.reviews(case=case_id)
    assert review.text == REVIEW_TEXT


def _sqlite_bytes(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def _pg_dump(postgres: Any, url: str) -> bytes:
    name = url.split("@/", 1)[1].split("?", 1)[0]
    out = subprocess.run(
        [
            *(["runuser", "-u", "postgres", "--"] if postgres.as_postgres else []),
            str(postgres.bindir / "pg_dump"),
            "-h",
            str(postgres.root),
            "-p",
            str(postgres.port),
            "-U",
            "postgres",
            name,
        ],
        capture_output=True,
        check=True,
        timeout=120,
    )
    assert b"hf_case" in out.stdout
    return out.stdout


def _stored(postgres: Any, url: str) -> bytes:
    return _sqlite_bytes(url) if url.startswith("sqlite") else _pg_dump(postgres, url)


@pytest.mark.postgres
def test_with_a_key_no_personal_value_is_stored_and_rotation_retires_the_old_key(
    migrated_url: str, request: pytest.FixtureRequest
) -> None:
    postgres = request.getfixturevalue("postgres") if migrated_url.startswith("postgres") else None
    old, new = _key(), _key()
    with Engine(migrated_url, key=old) as engine:
        case_id = _walk(engine)
        _readable(engine, case_id)
        engine.close()  # SQLite: the last checkpoint writes the WAL into the file; both are read
    stored = _stored(postgres, migrated_url)
    values = _personal_values()
    assert [v for v in values if v.encode() in stored] == []
    assert PREFIX.encode() + key_id_of(base64.b64decode(old)).encode() in stored

    # rotate: the new key first, the old one behind it until the rotation has finished
    with Engine(migrated_url, key=f"{new},{old}") as engine:
        before = engine.key_status()
        assert before["to_rotate"] > 0 and before["plaintext"] == 0
        done = engine.rotate_keys(batch=3)
        assert done["total"] == before["to_rotate"] and done["batches"] > 1
        assert done["log_cleared"]  # SQLite: truncated even with the engine's checkpoint thread running
        after = engine.key_status()
        assert after["to_rotate"] == 0
        assert all(set(counts) <= {key_id_of(base64.b64decode(new))} for counts in after["columns"].values())
        assert engine.rotate_keys()["total"] == 0  # idempotent
        if postgres is None:  # SQLite, the engine still open: neither the file nor its log holds old ones
            old_mark = PREFIX.encode() + key_id_of(base64.b64decode(old)).encode()
            assert old_mark not in _sqlite_bytes(migrated_url)
    with Engine(migrated_url, key=new) as engine:  # the old key removed: everything still opens
        _readable(engine, case_id)
        assert engine.case(case_id).state == "completed"
    stored = _stored(postgres, migrated_url)
    assert [v for v in values if v.encode() in stored] == []
    assert PREFIX.encode() + key_id_of(base64.b64decode(old)).encode() not in stored
    with Engine(migrated_url, key=old) as engine, pytest.raises(ConfigError) as info:
        engine.case_data(case_id)  # the old key alone opens nothing any more
    assert "而该密钥没有配置" in str(info.value) and old not in str(info.value)


def test_a_rotation_interrupted_goes_on_where_it_stopped(sqlite_url: str) -> None:
    old, new = _key(), _key()
    migrated(sqlite_url)
    with Engine(sqlite_url, key=old) as engine:
        case_id = _walk(engine)
    with Engine(sqlite_url, key=f"{new},{old}") as engine:
        batches: list[int] = []

        def stop_after_two(_column: str, _done: int) -> None:
            batches.append(_done)
            if len(batches) == 2:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            key_rotation.rotate(engine.context, batch=2, on_batch=stop_after_two)
        half = engine.key_status()
        assert half["to_rotate"] > 0 and sum(batches) == 4
        _readable(engine, case_id)  # half rotated: both keys open it
        rest = engine.rotate_keys(batch=2)
        assert rest["total"] == half["to_rotate"] and engine.key_status()["to_rotate"] == 0


def test_rotation_seals_values_stored_before_a_key_was_configured(sqlite_url: str) -> None:
    migrated(sqlite_url)
    with Engine(sqlite_url, allow_plaintext=True) as engine:
        case_id = _walk(engine)
    assert APPLICANT["id_number"].encode() in _sqlite_bytes(sqlite_url)
    key = _key()
    with Engine(sqlite_url, key=key) as engine:
        assert engine.key_status()["plaintext"] > 0
        engine.rotate_keys()
        assert engine.key_status()["plaintext"] == 0
        _readable(engine, case_id)
        stored = _sqlite_bytes(sqlite_url)  # no plain remnant in freed space or in the log either
        assert [v for v in _personal_values() if v.encode() in stored] == []


def test_a_log_kept_busy_by_a_reader_is_reported_not_claimed_cleared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reader holding its snapshot keeps old frames in the SQLite log: rotate says so, and says
    when to run again; with the reader gone the next run clears it."""
    import sqlite3

    url = migrated(f"sqlite:///{tmp_path / 'hf.db'}")
    old, new = _key(), _key()
    with Engine(url, key=old) as engine:
        _walk(engine)
    monkeypatch.setattr(key_rotation, "_TRUNCATE_TRIES", 2)
    monkeypatch.setenv("HENNAN_FLOW_KEY", f"{new},{old}")
    reader = sqlite3.connect(tmp_path / "hf.db", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM hf_case").fetchall()  # a snapshot held open
    rc, out, err = run(capsys, "--db", url, "--format", "json", "keys", "rotate")
    assert rc == 0, err
    assert json.loads(out)["log_cleared"] is False and json.loads(out)["total"] > 0
    rc, out, err = run(capsys, "--db", url, "keys", "rotate")
    assert rc == 0 and "could not be truncated" in out and "may now be removed" not in out, out
    reader.execute("COMMIT")
    reader.close()
    rc, out, err = run(capsys, "--db", url, "keys", "rotate")
    assert rc == 0 and "may now be removed" in out, out
    old_mark = PREFIX.encode() + key_id_of(base64.b64decode(old)).encode()
    assert old_mark not in _sqlite_bytes(url)


def test_the_cli_rotates_and_reports_without_key_material(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = migrated(f"sqlite:///{tmp_path / 'hf.db'}")
    old, new = _key(), _key()
    with Engine(url, key=old) as engine:
        _walk(engine)
    monkeypatch.setenv("HENNAN_FLOW_KEY", f"{new}, {old}")
    rc, out, err = run(capsys, "--db", url, "--format", "json", "keys", "rotate", "--batch", "5")
    assert rc == 0, err
    assert json.loads(out)["total"] > 0 and old not in out + err and new not in out + err
    rc, out, err = run(capsys, "--db", url, "keys", "status")
    assert rc == 0 and "values to rotate: 0" in out, out
    # the old key removed from a file: still readable
    keyfile = tmp_path / "keys"
    keyfile.write_text(f"# the county's key\n{new}\n", encoding="ascii")
    monkeypatch.delenv("HENNAN_FLOW_KEY")
    monkeypatch.setenv("HENNAN_FLOW_KEY_FILE", str(keyfile))
    rc, out, err = run(capsys, "--db", url, "--format", "json", "keys", "status")
    assert rc == 0 and json.loads(out)["to_rotate"] == 0, err


@pytest.mark.parametrize(
    "value",
    ["not base64!", base64.b64encode(b"short").decode(), base64.b64encode(os.urandom(32)).decode() + ",@@"],
    ids=["not-base64", "short", "good-then-bad"],  # the same ids in every collecting process
)
def test_a_bad_key_is_one_line_that_never_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    url = migrated(f"sqlite:///{tmp_path / 'hf.db'}")
    monkeypatch.setenv("HENNAN_FLOW_KEY", value)
    rc, out, err = run(capsys, "--db", url, "keys", "status")
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "HENNAN_FLOW_KEY" in err
    for part in value.split(","):
        assert part not in out + err
    monkeypatch.setenv("HENNAN_FLOW_KEY_FILE", str(tmp_path / "keys"))
    rc, _out, err = run(capsys, "--db", url, "keys", "status")
    assert rc == 2 and "只设置其中一个" in err


def test_a_keyring_opens_with_any_of_its_keys_and_binds_each_value_to_its_column() -> None:
    old, new = os.urandom(32), os.urandom(32)
    sealed = Keyring([old]).seal("430422199001011234", "hf_case.applicant")
    assert sealed.startswith(f"{PREFIX}{key_id_of(old)}:") and "4304" not in sealed
    both = Keyring([new, old])
    assert both.open(sealed, "hf_case.applicant") == "430422199001011234"
    assert not both.is_current(sealed) and both.is_current(both.seal("x", "hf_case.applicant"))
    with pytest.raises(ConfigError, match="无法解密"):
        both.open(sealed, "hf_review.text")  # moved to another column
    with pytest.raises(ConfigError, match="而该密钥没有配置"):
        Keyring([new]).open(sealed, "hf_case.applicant")
    assert Keyring([old]).open("plain", "hf_review.text") == "plain"


def test_a_production_database_without_a_key_refuses_personal_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HENNAN_FLOW_ALLOW_PLAINTEXT", raising=False)
    monkeypatch.delenv("HENNAN_FLOW_KEY", raising=False)
    url = migrated(f"sqlite:///{tmp_path / 'hf.db'}")
    with Engine(url) as engine:
        engine.deploy(str(PROCESSES / "newborn.bpmn"), forms=str(FORMS))
        with pytest.raises(ConfigError) as info:
            engine.start_case("newborn", applicant=APPLICANT)
        text = str(info.value) + (info.value.hint or "")
        assert "x-hf-sensitive" in text and "baby_id_number" in text and "--allow-plaintext" in text
        assert not any(v in text for v in APPLICANT.values())
        assert engine.cases() == []  # nothing half-started
    with Engine(url, allow_plaintext=True) as engine:
        assert engine.start_case("newborn", applicant=APPLICANT).state == "open"
    applicant = tmp_path / "applicant.json"
    applicant.write_text(json.dumps(APPLICANT, ensure_ascii=False), encoding="utf-8")
    rc, _out, err = run(capsys, "--db", url, "case", "start", "newborn", "--applicant", f"@{applicant}")
    assert rc == 2 and "没有配置密钥" in err and len(err.strip().splitlines()) == 1, err
    rc, _out, err = run(
        capsys, "--db", url, "--allow-plaintext", "case", "start", "newborn", "--applicant", f"@{applicant}"
    )
    assert rc == 0, err


def test_a_simulation_database_without_a_key_warns_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("HENNAN_FLOW_ALLOW_PLAINTEXT", raising=False)
    monkeypatch.delenv("HENNAN_FLOW_KEY", raising=False)
    url = migrated(f"sqlite:///{tmp_path / 'hf.db'}", simulation=True)
    with caplog.at_level(logging.WARNING, logger="hennan_flow"), Engine(url, clock=START) as engine:
        engine.deploy(str(PROCESSES / "newborn.bpmn"), forms=str(FORMS))
        engine.start_case("newborn", applicant=APPLICANT)
        engine.start_case("newborn", applicant=APPLICANT)
    warned = [r for r in caplog.records if "明文" in r.getMessage()]
    assert len(warned) == 1 and warned[0].getMessage() == (
        "模拟数据库未配置密钥：个人信息以明文保存（请设置 HENNAN_FLOW_KEY 或 HENNAN_FLOW_KEY_FILE）"
    )


def test_the_shipped_forms_mark_personal_fields_sensitive() -> None:
    personal = ("姓名", "身份号码", "手机号码", "联系电话", "地址", "食品安全管理人员")
    missing = []
    for path in sorted(FORMS.glob("*/*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        marked = sensitive_fields(schema)
        for name, prop in schema.get("properties", {}).items():
            title = prop.get("title", "")
            if any(word in title for word in personal) and name not in marked:
                missing.append(f"{path.parent.name}/{path.stem}: {name} ({title})")
    assert missing == []
    assert {"mother_id_number", "father_name", "baby_name"} <= sensitive_fields(
        json.loads((FORMS / "newborn" / "birth_certificate.schema.json").read_text(encoding="utf-8"))
    )


def test_x_hf_sensitive_must_be_a_boolean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    shutil.copytree(FORMS / "newborn", tmp_path / "forms" / "newborn")
    (tmp_path / "processes").mkdir()
    shutil.copy(PROCESSES / "newborn.bpmn", tmp_path / "processes" / "newborn.bpmn")
    path = tmp_path / "forms" / "newborn" / "birth_certificate.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["properties"]["baby_name"]["x-hf-sensitive"] = "yes"
    path.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    rc, out, err = run(capsys, "validate", str(tmp_path / "processes" / "newborn.bpmn"))
    assert rc == 1 and "x-hf-sensitive must be true or false" in out + err, out + err


def test_a_10_mb_value_gets_a_short_message_that_never_quotes_it(tmp_path: Path) -> None:
    url = migrated(f"sqlite:///{tmp_path / 'hf.db'}", simulation=True)
    huge = "43042219900101122Z" + "9" * 10_000_000
    with Engine(url, clock=START, key=_key()) as engine:
        engine.deploy(str(PROCESSES / "newborn.bpmn"), forms=str(FORMS))
        case = engine.start_case("newborn", applicant=APPLICANT)
        [task] = engine.tasks(case=case.id)
        data = {**NEWBORN["birth_certificate"], "mother_id_number": huge}
        with pytest.raises(FormDataError) as info:
            engine.complete_task(task.id, data=data)
    error = info.value
    shown = str(error) + (error.hint or "") + "".join(f.message for f in error.fields)
    assert len(shown) < 2_000, len(shown)
    assert "43042219900101122Z" not in shown and "9999999999" not in shown
    [field] = error.fields  # the field and the rule, in Chinese
    assert field.field == "/mother_id_number" and "母亲公民身份号码" in field.message, field
    assert len(field.message) <= 200


def test_key_material_and_personal_values_stay_out_of_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from helpers import every_record, everything_at_debug, strings_in

    url = migrated(f"sqlite:///{tmp_path / 'hf.db'}")
    old, new = _key(), _key()
    secrets = [old, new, repr(base64.b64decode(old))[2:-1], repr(base64.b64decode(new))[2:-1]]
    with every_record() as handler:
        everything_at_debug(caplog)
        with Engine(url, key=old) as engine:
            everything_at_debug(caplog)
            case_id = _walk(engine)
        with Engine(url, key=f"{new},{old}") as engine:
            engine.rotate_keys(batch=4)
            _readable(engine, case_id)
    assert handler.records, "the loggers were not on"
    texts = [t for r in handler.records for t in (r.getMessage(), *strings_in(r.__dict__))] + handler.lines
    assert [s for s in secrets if any(s in t for t in texts)] == []
    personal = [
        v for v in (APPLICANT["id_number"], NEWBORN["birth_certificate"]["mother_id_number"], REVIEW_TEXT)
    ]
    assert [v for v in personal if any(v in t for t in texts)] == []


def test_a_downgrade_refuses_while_values_are_sealed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = migrated(f"sqlite:///{tmp_path / 'hf.db'}")
    with Engine(url, key=_key()) as engine:
        engine.deploy(str(PROCESSES / "newborn.bpmn"), forms=str(FORMS))
        engine.start_case("newborn", applicant=APPLICANT)
        before = engine.status()["revision"]
    rc, _out, err = run(capsys, "--db", url, "db", "downgrade", "0004", "--force")
    assert rc == 2 and "sealed at rest" in err and len(err.strip().splitlines()) == 1, err
    with Engine(url) as engine:
        assert engine.status()["revision"] == before  # nothing changed


def test_applicant_errors_are_bounded_and_never_quote_a_long_value(tmp_path: Path) -> None:
    url = migrated(f"sqlite:///{tmp_path / 'hf.db'}", simulation=True)
    long = "430422199001011234" * 600_000  # ~10 MB
    with Engine(url, clock=START, key=_key()) as engine:
        engine.deploy(str(PROCESSES / "enterprise_opening.bpmn"), forms=str(FORMS))
        for intake in ({long: []}, {"missing": [long, *(f"m{i}" for i in range(100))]}):
            with pytest.raises(InputError) as info:
                engine.start_case(
                    "enterprise_opening", applicant={"credit_code": "91430422MA4T8X2K3N", "intake": intake}
                )
            shown = str(info.value)
            assert len(shown) < 1_000 and long[:100] not in shown, len(shown)
