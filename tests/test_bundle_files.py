"""Bundle files as they come from designers' tools: other encodings, pipes, devices, growing files.

Every encoding a file may declare is decoded once, in `xmlsafe`, and every later stage reads the same
UTF-8 text; a file that is not text in its encoding, or not a regular file, is refused with exit 2
and one line (issue 28, items 4 and 5).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from hennan_flow.bpmn.dialect import read_document
from hennan_flow.bpmn.validate import validate_file
from hennan_flow.bpmn.xmlsafe import parse_file, read_source
from hennan_flow.engine import Engine
from hennan_flow.errors import BpmnError
from hennan_flow.inputs import ReadRefused, read_input
from test_validate import CLEAN, FORMS, run

LATIN = """<?xml version="1.0" encoding="ISO-8859-1"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="urn:t">
  <bpmn:process id="cafe" name="Café crème" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:endEvent id="end" name="fermé"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _recoded(folder: Path, encoding: str, declared: str) -> Path:
    """CLEAN (UTF-8, Chinese names) saved in another encoding, beside a copy of its forms."""
    text = CLEAN.read_text(encoding="utf-8").replace('encoding="UTF-8"', f'encoding="{declared}"')
    (folder / "bundles").mkdir(exist_ok=True)
    target = folder / "bundles" / f"clean_{encoding}.bpmn"
    target.write_bytes(text.encode(encoding))
    return target


@pytest.mark.parametrize(
    ("encoding", "declared"),
    [
        ("utf-16", "UTF-16"),
        ("utf-16-le", "UTF-16"),
        ("gbk", "GBK"),
        ("gb18030", "GB18030"),
        ("gb2312", "GB2312"),
    ],
)
def test_declared_encodings_are_decoded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], encoding: str, declared: str
) -> None:
    path = _recoded(tmp_path, encoding, declared)
    if encoding == "utf-16-le":  # no byte order mark: XML's autodetection by the bytes of "<?"
        assert not path.read_bytes().startswith((b"\xff\xfe", b"\xfe\xff"))
    rc, out, err = run(capsys, "validate", path, "--forms", FORMS)
    assert (rc, out) == (0, ""), out + err
    source = read_source(path)
    original = read_document(parse_file(CLEAN), "clean")
    decoded = read_document(source.tree, "clean")
    assert [s.name for s in decoded.bundles[0].steps] == [s.name for s in original.bundles[0].steps]
    assert decoded.bundles[0].name == "测试一件事"
    # what deploy stores: UTF-8 text that says so, parsing to the same names
    assert source.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert source.text == CLEAN.read_text(encoding="utf-8")
    result = validate_file(path, forms_dir=str(FORMS))
    assert result.text == source.text


def test_latin_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cafe.bpmn"
    path.write_bytes(LATIN.encode("latin-1"))
    rc, _, err = run(capsys, "validate", path)
    assert rc == 0, err
    [bundle] = read_document(parse_file(path), str(path)).bundles
    assert bundle.name == "Café crème"
    assert read_source(path).encoding == "iso8859-1"


@pytest.mark.parametrize(
    ("data", "line", "words"),
    [
        (LATIN.replace("ISO-8859-1", "UTF-8").encode("latin-1"), 3, "字节 0xe9 不是 UTF-8 文本"),
        (
            LATIN.replace('<?xml version="1.0" encoding="ISO-8859-1"?>\n', "").encode("latin-1"),
            2,
            "文件没有声明编码",
        ),
        (LATIN.replace("ISO-8859-1", "x-klingon").encode("latin-1"), 1, 'encoding="x-klingon"'),
        (LATIN.replace("ISO-8859-1", "base64").encode("latin-1"), 1, "不是 hennan_flow 认识的文本编码"),
    ],
    ids=["declared-utf8-but-latin1", "undeclared-latin1", "unknown-encoding", "not-a-text-codec"],
)
def test_bytes_not_in_their_encoding_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, line: int, words: str
) -> None:
    path = tmp_path / "bad.bpmn"
    path.write_bytes(data)
    rc, out, _ = run(capsys, "validate", path)
    assert rc == 2
    [shown] = out.splitlines()
    assert shown.startswith(f"{path}:{line}: [XML-ENCODING] ") and words in shown, shown
    assert "hint: 把文件另存为 UTF-8 编码" in shown


def test_a_fifo_is_refused_without_blocking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "bundle.bpmn"
    os.mkfifo(fifo)
    rc, out, _ = run(capsys, "validate", fifo)  # would block for ever if it were opened for reading
    assert rc == 2
    assert (
        out
        == f"{fifo}: [IO-READ] 是命名管道（FIFO），不是普通文件. hint: 请指定一个普通文件（不读取管道、设备和套接字）\n"
    )
    # a writer waiting on the other side changes nothing: still refused, never read
    writer = threading.Thread(target=lambda: _write_quietly(fifo), daemon=True)
    writer.start()
    with pytest.raises(ReadRefused) as caught:
        read_input(fifo, max_bytes=100)
    assert caught.value.kind == "not_regular"
    # let the writer finish: hold a reader open (non-blocking, so it cannot hang if the writer already
    # gave up on a broken pipe) until the writer's open and write are through
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        writer.join(timeout=30)
    finally:
        os.close(reader)
    assert not writer.is_alive()


def _write_quietly(path: Path) -> None:
    try:
        with open(path, "wb") as f:
            f.write(b"<x/>")
    except OSError:
        pass


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_devices_are_refused(capsys: pytest.CaptureFixture[str], device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"{device} not here")
    rc, out, _ = run(capsys, "validate", device)
    assert rc == 2
    assert out.startswith(f"{device}: [IO-READ] 是字符设备，不是普通文件.")


def test_a_directory_is_not_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(BpmnError) as caught:
        parse_file(tmp_path)
    assert caught.value.code == "IO-READ" and caught.value.message == "是目录，不是普通文件"


def test_the_bound_counts_bytes_read_not_st_size() -> None:
    """/proc files report st_size 0 and hold more: the bound must still hold."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("no /proc here")
    assert maps.stat().st_size == 0
    with pytest.raises(ReadRefused) as caught:
        read_input(maps, max_bytes=64)
    assert caught.value.kind == "too_big"
    assert len(read_input(maps, max_bytes=10_000_000)) > 64


@pytest.mark.parametrize(
    ("encoding", "declared"), [("gbk", "GBK"), ("utf-16", "UTF-16"), ("gb18030", "GB18030")]
)
def test_deploy_agrees_with_validate_on_a_gbk_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], encoding: str, declared: str
) -> None:
    path = _recoded(tmp_path, encoding, declared)
    url = f"sqlite:///{tmp_path / 'hf.db'}"
    assert run(capsys, "--db", url, "db", "upgrade")[0] == 0
    rc, out, err = run(capsys, "--db", url, "deploy", path, "--forms", FORMS)
    assert rc == 0, err
    assert out.startswith("clean_bundle\tv1\t")
    # what was stored is the decoded text: the same names as the UTF-8 original, a case starts
    with Engine(url) as engine:
        original = read_document(parse_file(CLEAN), "clean").bundles[0]
        stored = engine.bundle("clean_bundle")
        assert (stored.name, [s.name for s in stored.steps]) == (
            original.name,
            [s.name for s in original.steps],
        )
        assert engine.start_case("clean_bundle").state == "open"
    # the same bundle saved as UTF-8 is the same version
    rc, out, err = run(capsys, "--db", url, "deploy", str(CLEAN), "--forms", FORMS)
    assert rc == 0 and out.startswith("clean_bundle\tv1\t"), out + err
