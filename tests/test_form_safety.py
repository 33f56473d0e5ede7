"""Form schemas as an attacker writes them (issue 28 item 1): nothing is fetched, nothing unbounded runs.

Each failure class the hardening pass found has its test: a `file://` ref disclosing a file, an
`http://` ref reaching a loopback server, a ref to a server that never answers, a `false` schema
accepting everything, a ReDoS pattern, a 50,000-deep schema, a huge value. Each bad schema is refused
by `validate` (file, JSON pointer, fix) and by `deploy`, and the run-time check refuses it too when it
meets one anyway (a definition stored before these checks, or a direct API call).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from helpers import ACCEPT, REVIEW_LIB
from hennan_flow import ConfigError, FindingsError, FormDataError
from hennan_flow.cli import main
from hennan_flow.engine import Engine
from hennan_flow.engine.definitions import load_definition
from hennan_flow.stepforms.data import MAX_DATA_CHARS, check_form_data
from hennan_flow.stepforms.schema import MAX_SCHEMA_BYTES, MAX_SCHEMA_DEPTH

FORM_REF = "review/accept"


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    """A copy of the engine fixture bundle (processes/ + forms/) whose form a test rewrites."""
    target = tmp_path / "lib"
    shutil.copytree(REVIEW_LIB, target)
    return target


def form_file(lib: Path) -> Path:
    return lib / "forms" / "review" / "accept.schema.json"


def accept_form() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (REVIEW_LIB / "forms" / "review" / "accept.schema.json").read_text("utf-8")
    )
    return schema


def write_form(lib: Path, schema: Any) -> None:
    form_file(lib).write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")


def with_name_schema(sub: Any) -> dict[str, Any]:
    """The accept form with the enterprise_name field replaced by `sub`."""
    schema = accept_form()
    schema["properties"]["enterprise_name"] = sub
    return schema


def validate(lib: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["validate", str(lib / "processes")])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return int(info.value.code or 0), out + err


def assert_refused(lib: Path, capsys: pytest.CaptureFixture[str], *words: str) -> str:
    """validate exits 1 naming the schema file, the pointer and a fix; deploy refuses the bundle."""
    rc, text = validate(lib, capsys)
    assert rc == 1, text
    [line] = [x for x in text.splitlines() if "[HF-FORM]" in x]
    assert "accept.schema.json" in line and "hint:" in line
    for word in words:
        assert word in line, line
    engine = Engine(f"sqlite:///{lib.parent / 'deploy.db'}")
    engine.upgrade()
    with pytest.raises(FindingsError, match="HF-FORM"):
        engine.deploy(str(lib / "processes"))
    assert engine.definitions() == []
    engine.close()
    return line


# -- a loopback server that counts who reached it -------------------------------------------------


class _Counting(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = json.dumps({"const": "TOPSECRET-FROM-HTTP"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (_Counting,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_server() -> Iterator[tuple[str, socket.socket]]:
    """A port that accepts TCP connections (the kernel's backlog) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(10)  # so that a client that does connect fails instead of hanging the suite
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", sock
    finally:
        socket.setdefaulttimeout(old_timeout)
        sock.close()


def connected(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


# -- refs ------------------------------------------------------------------------------------------


def test_a_file_ref_is_refused_and_never_read(lib: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = lib.parent / "secret.json"
    secret.write_text(json.dumps({"const": "TOPSECRET-FROM-FILE"}), encoding="utf-8")
    schema = with_name_schema({"$ref": secret.as_uri()})
    write_form(lib, schema)
    line = assert_refused(lib, capsys, "/properties/enterprise_name/$ref", "file: URI", "never fetched")
    assert "TOPSECRET" not in line
    # the run-time check meets it (a direct call, or a definition stored before this check): refused unread
    with pytest.raises(ConfigError) as info:
        check_form_data(schema, {**ACCEPT, "enterprise_name": "衡南县某公司"}, step="accept", form=FORM_REF)
    assert "TOPSECRET" not in str(info.value) + str(info.value.hint)


@pytest.mark.parametrize(
    "ref",
    [
        "../../secret.schema.json",
        "/etc/hostname",
        "common/../../../secret.schema.json",
        "%2e%2e/secret.schema.json",
    ],
)
def test_refs_that_leave_the_forms_folder_are_refused(
    lib: Path, capsys: pytest.CaptureFixture[str], ref: str
) -> None:
    (lib.parent / "secret.schema.json").write_text('{"const": "TOPSECRET"}', encoding="utf-8")
    write_form(lib, with_name_schema({"$ref": ref}))
    line = assert_refused(lib, capsys, "/properties/enterprise_name/$ref")
    assert "TOPSECRET" not in line


def test_an_http_ref_never_reaches_the_loopback_server(
    lib: Path, capsys: pytest.CaptureFixture[str], http_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, hits = http_server
    schema = with_name_schema({"$ref": f"{url}/name.schema.json"})
    write_form(lib, schema)
    assert_refused(lib, capsys, "http: URI", "/properties/enterprise_name/$ref")
    with pytest.raises(ConfigError):
        check_form_data(schema, ACCEPT, step="accept", form=FORM_REF)
    # a definition stored before the check (the row as an older deploy wrote it): refused, not fetched
    stored = load_definition(1, "review", 1, "review.bpmn", _review_bpmn(), json.dumps({FORM_REF: schema}))
    with pytest.raises(ConfigError, match="无法核对"):
        stored.check_data("accept", ACCEPT)
    assert hits == []


def test_a_ref_to_a_server_that_never_answers_does_not_hang(
    lib: Path, capsys: pytest.CaptureFixture[str], silent_server: tuple[str, socket.socket]
) -> None:
    url, sock = silent_server
    schema = with_name_schema({"$ref": f"{url}/name.schema.json"})
    write_form(lib, schema)
    assert_refused(lib, capsys, "http: URI")
    stored = load_definition(1, "review", 1, "review.bpmn", _review_bpmn(), json.dumps({FORM_REF: schema}))
    with pytest.raises(ConfigError):
        stored.check_data("accept", ACCEPT)
    assert not connected(sock)


def _review_bpmn() -> str:
    return (REVIEW_LIB / "processes" / "review.bpmn").read_text(encoding="utf-8")


def test_a_ref_within_the_forms_folder_is_stored_at_deploy_and_never_read_again(
    lib: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = lib / "forms" / "common"
    common.mkdir()
    name = {"$defs": {"name": {"type": "string", "title": "企业名称", "minLength": 2, "maxLength": 50}}}
    (common / "names.schema.json").write_text(json.dumps(name, ensure_ascii=False), encoding="utf-8")
    schema = with_name_schema({"$ref": "../common/names.schema.json#/$defs/name"})
    schema["properties"]["capital"] = {"$ref": "urn:hennan-flow:forms:review/accept#/$defs/capital"}
    schema["$defs"] = {"capital": {"type": "integer", "title": "注册资本（万元）", "minimum": 1}}
    write_form(lib, schema)
    rc, text = validate(lib, capsys)
    assert rc == 0, text
    engine = Engine(f"sqlite:///{lib.parent / 'hf.db'}")
    engine.upgrade()
    [deployed] = engine.deploy(str(lib / "processes"))
    (common / "names.schema.json").unlink()  # the case runs on what deploy stored
    case = engine.start_case("review")
    [task] = engine.tasks(case=case.id)
    with pytest.raises(FormDataError) as info:
        engine.complete_task(task.id, data={"enterprise_name": "衡", "capital": 0})
    assert {f.field: f.message for f in info.value.fields} == {
        "/enterprise_name": "企业名称至少填写 2 个字",
        "/capital": "注册资本（万元）不能小于 1",
    }
    assert engine.complete_task(task.id, data=ACCEPT).state == "completed"
    # the referenced schema is part of the version: changing it makes a new one
    name["$defs"]["name"]["maxLength"] = 40
    (common / "names.schema.json").write_text(json.dumps(name, ensure_ascii=False), encoding="utf-8")
    [again] = engine.deploy(str(lib / "processes"))
    assert (again.version, again.content_hash != deployed.content_hash) == (2, True)
    engine.close()


def test_a_ref_to_nothing_and_a_ref_loop_are_refused(lib: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_form(lib, with_name_schema({"$ref": "#/$defs/missing"}))
    assert_refused(lib, capsys, "points at nothing")
    looped = accept_form()
    looped["$defs"] = {"a": {"allOf": [{"$ref": "#/$defs/b"}]}, "b": {"$ref": "#/$defs/a"}}
    looped["properties"]["enterprise_name"] = {"$ref": "#/$defs/a"}
    write_form(lib, looped)
    assert_refused(lib, capsys, "loop that never steps into the data")
    write_form(lib, {**accept_form(), "$ref": "#"})
    assert_refused(lib, capsys, "loop")
    # a $ref back up that steps into the data first (a tree of values) is fine
    tree = accept_form()
    tree["properties"]["branches"] = {"type": "array", "items": {"$ref": "#"}}
    write_form(lib, tree)
    assert validate(lib, capsys)[0] == 0


# -- boolean schemas -----------------------------------------------------------------------------------


def test_a_false_form_is_refused_and_never_accepts_data(
    lib: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_form(lib, False)
    assert_refused(lib, capsys, "the schema is false")
    # a definition stored with `false` (before this check) refuses every submission: fail-closed
    stored = load_definition(1, "review", 1, "review.bpmn", _review_bpmn(), json.dumps({FORM_REF: False}))
    for data in ({}, ACCEPT, {"anything": 1}):
        with pytest.raises(FormDataError) as info:
            stored.check_data("accept", data)
        [field] = info.value.fields
        assert field.field == "/" and "请联系办理部门" in field.message
    # `true` accepts anything, and says so
    write_form(lib, True)
    rc, text = validate(lib, capsys)
    assert rc == 0 and "warning" in text and "accepts any data" in text


# -- patterns ---------------------------------------------------------------------------------------


def test_a_redos_pattern_runs_in_linear_time() -> None:
    """^(a+)+$ backtracks exponentially in Python's re (17 s at 30 characters); RE2 answers at once.

    Run in a child process with a generous guard, so that a regression fails instead of hanging.
    """
    code = (
        "from hennan_flow.stepforms.data import check_form_data\n"
        "from hennan_flow.errors import FormDataError\n"
        "schema = {'type': 'object', 'properties': {'code': {'type': 'string', 'title': '代码', "
        "'pattern': '^(a+)+$'}, 'other': {'type': 'string', 'pattern': '^(x|x)*y$'}}}\n"
        "try:\n"
        "    check_form_data(schema, {'code': 'a' * 5000 + '!', 'other': 'x' * 5000}, step='s', form='f')\n"
        "except FormDataError as exc:\n"
        "    print(sorted((f.field, f.message) for f in exc.fields))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[('/code', '代码格式不正确'), ('/other', 'other格式不正确')]"


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("^(?=a)a$", "look-around"),
        ("^(a)\\1$", "back-reference"),
        ("^a{5000}$", "repetition"),
        ("\\Z", "\\Z"),
    ],
)
def test_patterns_re2_cannot_bound_are_refused(
    lib: Path, capsys: pytest.CaptureFixture[str], pattern: str, why: str
) -> None:
    schema = accept_form()
    schema["properties"]["enterprise_name"]["pattern"] = pattern
    write_form(lib, schema)
    assert_refused(lib, capsys, "/properties/enterprise_name/pattern", "linear time", "RE2")
    schema["properties"]["enterprise_name"].pop("pattern")
    schema["patternProperties"] = {pattern: {"type": "string"}}
    write_form(lib, schema)
    assert_refused(lib, capsys, "/patternProperties")


def test_unevaluated_properties_beside_pattern_properties_are_refused(
    lib: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """jsonschema's unevaluatedProperties matches patternProperties with Python's re: not in forms."""
    schema = accept_form()
    schema.pop("additionalProperties")
    schema["patternProperties"] = {"^(a+)+$": {"type": "string"}}
    schema["unevaluatedProperties"] = False
    write_form(lib, schema)
    assert_refused(lib, capsys, "unevaluatedProperties together with patternProperties")


def test_shipped_pattern_escapes_keep_their_meaning() -> None:
    """\\u4e00-\\u9fa5 (ECMA-262 escapes) reach RE2 as \\x{…}; \\d stays ASCII as in the browser."""
    schema = {
        "type": "object",
        "properties": {
            "doc_no": {
                "type": "string",
                "title": "文号",
                "pattern": "^[0-9A-Za-z\\u4e00-\\u9fa5〔〕第号-]{1,40}$",
            },
            "phone": {"type": "string", "title": "手机号码", "pattern": "^1[3-9]\\d{9}$"},
        },
    }
    check_form_data(schema, {"doc_no": "衡南〔2026〕第3号", "phone": "13800000000"}, step="s", form="f")
    with pytest.raises(FormDataError) as info:
        check_form_data(schema, {"doc_no": "衡南 2026", "phone": "13٨00000000"}, step="s", form="f")
    assert {f.field for f in info.value.fields} == {"/doc_no", "/phone"}


# -- sizes ----------------------------------------------------------------------------------------------


def test_a_50000_deep_schema_is_refused_with_the_limit(lib: Path, capsys: pytest.CaptureFixture[str]) -> None:
    depth = 50_000
    text = '{"type": "object", "properties": {"x": {"default": ' + "[" * depth + "]" * depth + "}}}"
    form_file(lib).write_text(text, encoding="utf-8")
    assert_refused(lib, capsys, f"deeper than {MAX_SCHEMA_DEPTH} levels")
    text = '{"type": "object", "properties": {"x": ' + '{"not":' * 2000 + "{}" + "}" * 2000 + "}}"
    form_file(lib).write_text(text, encoding="utf-8")
    assert_refused(lib, capsys, f"deeper than {MAX_SCHEMA_DEPTH} levels")
    # just inside the limit is fine
    inside = '{"type": "object", "properties": {"x": ' + '{"not": ' * (MAX_SCHEMA_DEPTH - 4) + "{}"
    form_file(lib).write_text(inside + "}" * (MAX_SCHEMA_DEPTH - 4) + "}}", encoding="utf-8")
    assert validate(lib, capsys)[0] == 0


def test_a_schema_over_the_size_limit_is_refused(lib: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schema = accept_form()
    schema["x-hf-designer-note"] = "注" * (MAX_SCHEMA_BYTES // 3 + 1)
    write_form(lib, schema)
    assert_refused(lib, capsys, f"larger than {MAX_SCHEMA_BYTES // 1024} KiB")


def test_a_schema_that_is_not_a_regular_file_is_refused(
    lib: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = lib / "forms" / "common"
    common.mkdir()
    os.mkfifo(common / "fifo.schema.json")  # reading it would block for ever
    write_form(lib, with_name_schema({"$ref": "../common/fifo.schema.json"}))
    assert_refused(lib, capsys, "no schema common/fifo.schema.json")


def test_a_huge_value_gets_a_short_message_that_never_quotes_it(tmp_path: Path) -> None:
    engine = Engine(f"sqlite:///{tmp_path / 'hf.db'}")
    engine.upgrade()
    engine.deploy(str(REVIEW_LIB / "processes"))
    case = engine.start_case("review")
    [task] = engine.tasks(case=case.id)
    for size in (MAX_DATA_CHARS // 2, MAX_DATA_CHARS + 1, 20 * MAX_DATA_CHARS):
        value = "衡" * (size - 1) + "Z"
        with pytest.raises(FormDataError) as info:
            engine.complete_task(task.id, data={**ACCEPT, "enterprise_name": value})
        text = str(info.value)
        assert len(text) < 600 and "衡衡衡" not in text, text[:300]
        [field] = info.value.fields
        assert field.field == "/enterprise_name"
    assert engine.task(task.id).state == "ready"
    engine.close()


def test_deep_and_numerous_data_are_refused_before_checking() -> None:
    schema = accept_form()
    deep: Any = "x"
    for _ in range(10_000):
        deep = [deep]
    for data in ({**ACCEPT, "nested": deep}, {**ACCEPT, "many": list(range(20_000))}):
        with pytest.raises(FormDataError) as info:
            check_form_data(schema, data, step="accept", form=FORM_REF)
        [field] = info.value.fields
        assert "超出限制" in field.message


def test_a_combinatorial_schema_is_stopped_by_the_rule_budget() -> None:
    """Twenty-five levels of anyOf over $defs: 2^25 paths; the check gives up with a clear answer."""
    levels = 25
    defs: dict[str, Any] = {f"a{i}": {"anyOf": [{"$ref": f"#/$defs/a{i + 1}"}] * 2} for i in range(levels)}
    defs[f"a{levels}"] = {"type": "integer"}
    schema = {"type": "object", "$defs": defs, "properties": {"n": {"$ref": "#/$defs/a0", "title": "数量"}}}
    with pytest.raises(FormDataError) as info:
        check_form_data(schema, {"n": "many"}, step="s", form="f")
    [field] = info.value.fields
    assert "过于复杂" in field.message


def test_the_rule_budget_accepts_a_long_list_of_referenced_members() -> None:
    """2,000 family members of three fields, each a $ref: near the data bounds, well within the budget."""
    member = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "title": "姓名", "maxLength": 20},
            "relation": {"type": "string", "enum": ["父", "母", "子"]},
            "age": {"type": "integer", "minimum": 0},
        },
        "required": ["name", "relation"],
        "additionalProperties": False,
    }
    schema = {
        "type": "object",
        "$defs": {"member": member},
        "properties": {"members": {"type": "array", "title": "成员", "items": {"$ref": "#/$defs/member"}}},
        "additionalProperties": False,
    }
    members = [{"name": "张三", "relation": "父", "age": 30} for _ in range(2000)]
    check_form_data(schema, {"members": members}, step="s", form="f")
    members[1999] = {"name": "张三", "relation": "叔"}
    with pytest.raises(FormDataError) as info:
        check_form_data(schema, {"members": members}, step="s", form="f")
    assert [f.field for f in info.value.fields] == ["/members/1999/relation"]
